"""`load_study(path or name)`: a study file's `get_study(variant)`, as experiments are loaded.

A study is named by a path (`experiments/studies/smoke.py`) or by its name (`smoke`), looked up in
the `experiments/studies/` folder of the current directory and then in that of this checkout; a
trailing `:variant` selects a variant (`smoke:quick`).
"""

import hashlib
import importlib.util
import pathlib

from dvae_jax.errors import ConfigError
from dvae_jax.study.spec import Study

# The studies folder of a source checkout (beside the package).
REPOSITORY_STUDIES = pathlib.Path(__file__).resolve().parents[2] / "experiments" / "studies"


def resolve_study(name: str) -> pathlib.Path:
  """The file of study `name`; a ConfigError naming every path tried if there is none."""
  path = pathlib.Path(name)
  if path.suffix == ".py" or len(path.parts) > 1:
    tried = [path]
  else:
    tried = [pathlib.Path("experiments") / "studies" / f"{name}.py", REPOSITORY_STUDIES / f"{name}.py"]
  for candidate in tried:
    if candidate.is_file():
      return candidate
  raise ConfigError(
    f"no study {name!r}: tried {', '.join(str(p) for p in dict.fromkeys(tried))}. Expected a path to a study file "
    "(experiments/studies/smoke.py) or the name of one in experiments/studies/ (smoke), optionally with :variant."
  )


def load_study(spec: str | pathlib.Path) -> Study:
  """The Study of a study file's get_study(variant); `spec` is "path-or-name[:variant]"."""
  name, sep, variant = str(spec).partition(":")
  path = resolve_study(name)
  module_name = f"dvae_study_{path.stem}_{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]}"
  module_spec = importlib.util.spec_from_file_location(module_name, path)
  module = importlib.util.module_from_spec(module_spec)
  try:
    module_spec.loader.exec_module(module)
    if not hasattr(module, "get_study"):
      raise ConfigError(f"{path} has no get_study(variant) function; expected a study file (docs/studies.md).")
    study = module.get_study(variant) if sep else module.get_study()
  except ConfigError:
    raise
  except Exception as e:  # the study file's own code: one line, not a traceback into importlib
    raise ConfigError(f"loading the study file {path} raised {type(e).__name__}: {e}") from e
  if not isinstance(study, Study):
    raise ConfigError(f"{path}: get_study() returned a {type(study).__name__}; expected a dvae_jax.study.Study.")
  return study
