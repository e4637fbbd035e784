"""The tests mirror the package: tests/<path>/test_<module>.py tests dvae_jax/<path>/<module>.py (a package's own
__init__.py: tests/<path>/test_<package>.py, e.g. tests/test_dvae_jax.py, tests/ops/test_ops.py), and a test lives
in the module of the code it tests. A test stays beside the expensive module-scoped fixture it shares (the trained
runs of tests/test_evaluate.py, tests/test_figures.py, tests/test_cli.py) when moving it would train them twice.

Besides the mirror, modules that test no single module of the package:
  test_experiments.py  experiments/*.py: every config and declared variant validates, the smoke variant of every
                       experiment trains (one parametrized test), and each experiment's own settings
  test_cli.py          main.py, the `dvae` command as a user runs it, end to end
  test_bad_input.py    the bad-input matrix of docs/reproducibility.md
  test_readme.py       README.md's example and promises
  test_layout.py       the package's shape: import cycles, module sizes
  test_scripts.py      scripts/
  test_studies.py      experiments/studies/*.py: every study file and variant builds, and what each promises

Fixtures are in conftest.py, shared helpers in helpers.py (`from tests.helpers import ...`), data files in
fixtures/. conftest.py marks every end-to-end test (one that trains through the loop or runs `dvae`) slow:
`pytest -q -n 2 -m "not slow"` is the edit loop.
"""
