"""`load_study(path or name)`: a study file's `get_study(variant)`, as experiments are loaded.

A study is named by a path (`experiments/studies/smoke.py`) or by its name (`smoke`), looked up in
the `experiments/studies/` folder of the current directory and then in that of this checkout; a
trailing `:variant` selects a variant (`smoke:quick`), in the grammar of experiments' variants
(`configs.parse_variant`). The file is imported by the experiments' loader (`configs.loader.import_file`).
"""

import pathlib

from dvae_jax.errors import ConfigError
from dvae_jax.study.spec import Study

STUDIES = "experiments/studies"


def resolve_study(name: str) -> pathlib.Path:
  """The file of study `name`; a ConfigError naming every path tried if there is none."""
  from dvae_jax.configs.loader import candidate_paths  # lazily: importing the study package stays light (no jax)

  tried = candidate_paths(name, STUDIES)
  for candidate in tried:
    if candidate.is_file():
      return candidate
  raise ConfigError(
    f"no study {name!r}: tried {', '.join(str(p) for p in dict.fromkeys(tried))}. Expected a path to a study file "
    "(experiments/studies/smoke.py) or the name of one in experiments/studies/ (smoke), optionally with :variant."
  )


def load_study(spec: str | pathlib.Path) -> Study:
  """The Study of a study file's get_study(variant); `spec` is "path-or-name[:variant]"."""
  from dvae_jax.configs.loader import import_file, split_spec

  name, variant = split_spec(str(spec))
  path = resolve_study(name)
  try:
    module = import_file(path, "dvae_study")
    if not hasattr(module, "get_study"):
      raise ConfigError(f"{path} has no get_study(variant) function; expected a study file (docs/studies.md).")
    study = module.get_study(variant) if variant is not None else module.get_study()
  except ConfigError:
    raise
  except Exception as e:  # the study file's own code: one line, not a traceback into importlib
    raise ConfigError(f"loading the study file {path} raised {type(e).__name__}: {e}") from e
  if not isinstance(study, Study):
    raise ConfigError(f"{path}: get_study() returned a {type(study).__name__}; expected a dvae_jax.study.Study.")
  return study
