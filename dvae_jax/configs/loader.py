"""`load_experiment(path or name, variant)`: the one way to get an experiment's config, for the
command line, scripts, tests and notebooks alike.

An experiment is a Python file whose `get_config(variant)` returns a ConfigDict. It is named by a
path (`experiments/mnist_vae.py`), or by its name (`mnist_vae`), which is looked up in the
`experiments/` folder of the current directory and then in that of this checkout; a trailing
`:variant` selects a variant (`mnist_vae:smoke`).

The config comes locked, as on the command line: setting a key it does not have is an error that
names the key, its section and the nearest valid keys (`locking.StrictConfigDict`).
"""

import hashlib
import importlib.util
import pathlib
import types

import ml_collections

from dvae_jax.configs.locking import StrictConfigDict, nearest, strict
from dvae_jax.errors import ConfigError

# The folder of a source checkout that holds experiments/ (beside the package).
REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
REPOSITORY_EXPERIMENTS = REPOSITORY / "experiments"


def candidate_paths(name: str, folder: str = "experiments") -> list[pathlib.Path]:
  """Where file `name` (a path, or a bare name such as "mnist_vae") is looked for, in order: `folder` of
  the current directory, then that of this checkout."""
  path = pathlib.Path(name)
  if path.suffix == ".py" or len(path.parts) > 1:
    return [path]
  return [pathlib.Path(folder) / f"{name}.py", REPOSITORY / folder / f"{name}.py"]


def import_file(path: pathlib.Path, prefix: str) -> types.ModuleType:
  """The Python file at `path` imported as a module of its own, named after its resolved path (so that
  two files of one name stay apart): the one file loader of experiments and studies."""
  digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
  module_spec = importlib.util.spec_from_file_location(f"{prefix}_{path.stem}_{digest}", path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module


def resolve_experiment(name: str) -> pathlib.Path:
  """The file of experiment `name`; if there is none, a ConfigError naming every path tried and the nearest names."""
  tried = candidate_paths(name)
  for path in tried:
    if path.is_file():
      return path
  raise ConfigError(
    f"no experiment config {name!r}: tried {', '.join(str(p) for p in dict.fromkeys(tried))}. Expected a path to an "
    f"experiment file (experiments/mnist_vae.py) or the name of one in experiments/ (mnist_vae).{_suggest(name)} "
    "Nothing was loaded."
  )


def _suggest(name: str) -> str:
  """The experiments nearest to `name` (bare names, or the files beside a path), else all of them."""
  path = pathlib.Path(name)
  if path.suffix == ".py" or len(path.parts) > 1:
    files = sorted(p.name for p in path.parent.glob("*.py")) if path.parent.is_dir() else []
    near = nearest(path.name, files)
    return f" Did you mean {near} in {path.parent}?" if near else ""
  folders = (pathlib.Path("experiments"), REPOSITORY_EXPERIMENTS)
  known = sorted({p.stem for folder in folders if folder.is_dir() for p in folder.glob("*.py")})
  near = nearest(name, known)
  return f" Did you mean {near}?" if near else f" The experiments: {', '.join(known)}." if known else ""


def split_spec(spec: str) -> tuple[str, str | None]:
  """ "path[:variant]" -> (path, variant or None)."""
  path, sep, variant = spec.partition(":")
  return path, (variant if sep else None)


def load_experiment(spec: str | pathlib.Path, variant: str | None = None) -> StrictConfigDict:
  """The config of an experiment file, with `variant` (or the `:variant` of `spec`) applied, locked.

  Args:
    spec: a path to an experiment file or an experiment's name, optionally with ":variant".
    variant: the variant (e.g. "smoke", or "l2,smoke"); overrides one given in `spec`.
  """
  name, spec_variant = split_spec(str(spec))
  path = resolve_experiment(name)
  module = import_file(path, "dvae_experiment")
  if not hasattr(module, "get_config"):
    raise ConfigError(f"{path} has no get_config(variant) function; expected an experiment config file.")
  chosen = variant if variant is not None else spec_variant
  config = module.get_config(chosen) if chosen is not None else module.get_config()
  if not isinstance(config, ml_collections.ConfigDict):
    raise ConfigError(
      f"{path}: get_config({chosen!r}) returned a {type(config).__name__}; expected an ml_collections.ConfigDict "
      "(configs.base_config builds one)."
    )
  return strict(config).lock()
