"""Studies: many runs of several experiments over seeds, launched and compared as one (docs/studies.md).

  spec.py        Study, Group, Budget, Table, Metric, Curve: what a study file's get_study(variant) returns
  loader.py      load_study("smoke:quick" or a path): experiments/studies/<name>.py
  runner.py      `dvae study run`: train and evaluate every unfinished run, resumably, as local processes
                 or one Slurm job per run (submitit)
  provenance.py  what each run recorded (config.json, eval_test.json) against what the study asks now
  stats.py       mean ± sd over seeds, paired differences with their t interval
  report.py      `dvae study report`: README.md and runs.csv of the finished runs, described by their records
  cli.py         the command's flags

Importing this package is light (no jax): the launcher's runs are processes of their own.
"""

from dvae_jax.study.loader import load_study, resolve_study
from dvae_jax.study.spec import (
  Budget,
  Curve,
  Group,
  Metric,
  RunFigures,
  Study,
  StudyRun,
  Table,
  parse_variant,
)

__all__ = [
  "Budget",
  "Curve",
  "Group",
  "Metric",
  "RunFigures",
  "Study",
  "StudyRun",
  "Table",
  "load_study",
  "parse_variant",
  "resolve_study",
]


def __getattr__(name: str):
  if name == "Evaluate":  # removed after 0.2.0: say what replaces it rather than "cannot import name"
    raise ImportError(
      "dvae_jax.study.Evaluate was removed: a study sets its evaluation through eval.* overrides like any other key, "
      "and its classifier by name: Evaluate(iw_samples=0, classifier='c') is now overrides={'eval.iw_samples': 0}, "
      "classifier='c' (of Study or Group; docs/studies.md)."
    )
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
