"""Config I/O: the `config.json` a run writes into its workdir and reads back, and the entries of a
config that define what a checkpoint is (its identity, checked before a resume or an evaluation)."""

import ast
import json
import pathlib
from typing import Any

import ml_collections

from dvae_jax import parallel
from dvae_jax.configs.base import base_config
from dvae_jax.configs.locking import StrictConfigDict, unknown_key
from dvae_jax.errors import ConfigError, WorkdirError
from dvae_jax.models import renamed

# Config entries that define what a checkpoint *is*; anything else (epochs, logging) may change.
IDENTITY_KEYS = (
  "seed",
  "init_workdir",
  "model",
  "data.name",
  "data.path",
  "data.source",
  "data.grayscale",
  "data.invert",
  "data.binarize",
  "data.validation_split",
  "data.validation_fraction",
  "data.train_on_test",
  "data.train_limit",
  "data.image_size",
  "data.image_channels",
  "data.center_crop",
  "data.resize_filter",
  "data.test_fraction",
  "data.split_seed",
  "data.layout",
  "train.batch_size",
)


def identity(config_dict: dict[str, Any]) -> dict[str, Any]:
  """The identity-defining entries of a config (as a plain dict) under dotted names, a family or network
  that an earlier version named otherwise under today's name (so that its runs are still the same runs)."""
  current = renamed()
  out = {}
  for key in IDENTITY_KEYS:
    value = config_dict
    for part in key.split("."):
      value = value[part]
    out.update(_flatten(key, value))
  return {key: current.get(value, value) if isinstance(value, str) else value for key, value in out.items()}


def _flatten(prefix: str, value: Any) -> dict[str, Any]:
  if isinstance(value, dict):
    return {k: v for name, item in sorted(value.items()) for k, v in _flatten(f"{prefix}.{name}", item).items()}
  return {prefix: _plain(value)}


def _plain(value: Any) -> Any:
  return [_plain(v) for v in value] if isinstance(value, tuple | list) else value


def write_config(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> None:
  """workdir/config.json, which `load_config` reads back (process 0 of a multi-process run writes it)."""
  if parallel.is_primary():
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2, sort_keys=True) + "\n")


def load_config(workdir: str | pathlib.Path) -> StrictConfigDict:
  """The locked config a run wrote to workdir/config.json, on today's defaults for any key it lacks; a
  ConfigError for a key today's config does not have."""
  path = pathlib.Path(workdir) / "config.json"
  if not path.exists():
    raise FileNotFoundError(f"{path} not found: is {workdir} a workdir written by `dvae train`?")
  try:
    saved = json.loads(path.read_text())
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise WorkdirError(f"{path} is not valid JSON ({e}); expected the config `dvae train` wrote there.") from e
  if not isinstance(saved, dict):
    raise WorkdirError(f"{path} holds a {type(saved).__name__}; expected the config object `dvae train` wrote there.")
  model = saved.get("model", {})
  if not isinstance(model.get("network"), dict):
    raise ConfigError(
      f"{path} was written by an older dvae-jax whose config.model had no 'network' section; "
      "retrain with this version, or evaluate with the version that trained it."
    )
  config = base_config(model.get("family", "vae"), model["network"].get("name"))
  # A registry choice saved with another name than the default (e.g. model.discriminator.name) has
  # its own keys: the saved section replaces the default's instead of being merged into it.
  for key, value in model.items():
    default = config.model.get(key)
    if isinstance(value, dict) and "name" in value and isinstance(default, ml_collections.ConfigDict):
      if default.get("name") != value["name"]:
        config.model[key] = value
  unknown = unknown_key(saved, config)
  if unknown:
    raise ConfigError(
      f"{path} does not fit this version of dvae-jax: {unknown} Either another version wrote it (evaluate the run "
      "with that version), or the run's config was not locked and took a misspelt key, which that run ignored "
      "(remove the key from config.json to load the run as it trained). Nothing was loaded."
    )
  config.update(saved)
  return config.lock()


def describe(config: ml_collections.ConfigDict | None, *, diff: bool = False) -> str:
  """A config as text, one `key = value` line per entry (`dvae config`), nothing trained or loaded.

  Args:
    config: a resolved config (`load_experiment`, or the `--config` flag with its overrides).
    diff: only the entries that differ from the family's base config, `base_config(family, network)`
      (`# base: value` after each; an entry the base lacks or only the base has is marked so).
  """
  if config is None:
    raise ConfigError("no config to describe; expected an experiment (dvae config --config PATH[:variant]).")
  entries = _entries(config.to_dict())
  if not diff:
    return "\n".join(f"{key} = {value!r}" for key, value in entries.items())
  family, network = config.model.family, config.model.network.name
  base = _entries(base_config(family, network).to_dict())
  lines = {}
  for key in sorted({*entries, *base}):
    if key not in base:
      lines[key] = f"{key} = {entries[key]!r}  # not in the base config"
    elif key not in entries:
      lines[key] = f"{key}: not in this config  # base: {base[key]!r}"
    elif base[key] != entries[key]:
      lines[key] = f"{key} = {entries[key]!r}  # base: {base[key]!r}"
  return "\n".join([f"# what differs from configs.base_config({family!r}, {network!r})", *lines.values()])


def _entries(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
  """A nested dict's leaves under dotted keys, in its order."""
  out = {}
  for name, value in tree.items():
    key = f"{prefix}{name}"
    out.update(_entries(value, f"{key}.") if isinstance(value, dict) else {key: value})
  return out


def apply_override(config: ml_collections.ConfigDict, assignment: str) -> None:
  """Sets `config` from "a.b.c=VALUE" as a script's flag gives it: VALUE a Python literal (3, 1e-3,
  (16,), True, None), else the string itself. A locked config refuses an unknown key by name."""
  path, sep, text = assignment.partition("=")
  if not sep:
    raise ConfigError(f"override {assignment!r}: expected KEY=VALUE, e.g. train.num_epochs=3.")
  *sections, key = path.strip().split(".")
  section = config
  for part in sections:
    section = section[part]
  try:
    section[key] = ast.literal_eval(text)
  except (ValueError, SyntaxError):
    section[key] = text
