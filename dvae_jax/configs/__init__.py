"""The one config system: experiment files build a ConfigDict from `base_config` and the shared
`presets`, choose with `parse_variant` (the one variant grammar, studies' too), and are loaded, locked,
by `load_experiment`; `validate` checks every key and value before any work; `io` writes and reads a
run's config.json and a checkpoint's identity, and `describe` prints a config (`dvae config`).

  base.py        base_config(family, network): every key with its default; network_section(name)
  locking.py     StrictConfigDict: locked, a misspelt key is an error naming its section and the nearest keys
  presets.py     settings shared by experiments, one per published source or protocol: preset(config, ...) -> config
  variants.py    parse_variant: "resnet,light,cpu" against a file's VARIANTS table; apply_variant: "smoke", "cpu"
  validation.py  validate(config)
  io.py          write_config / load_config (workdir/config.json), identity (what a checkpoint is), describe
  loader.py      load_experiment("mnist_vae:smoke" or a path); import_file, the file loader of studies too
"""

from dvae_jax.configs import presets
from dvae_jax.configs.base import base_config, network_section
from dvae_jax.configs.io import IDENTITY_KEYS, apply_override, describe, identity, load_config, write_config
from dvae_jax.configs.loader import load_experiment, resolve_experiment
from dvae_jax.configs.locking import StrictConfigDict, UnknownKeyError
from dvae_jax.configs.validation import validate
from dvae_jax.configs.variants import GENERIC_VARIANTS, apply_variant, parse_variant
from dvae_jax.errors import ConfigError

__all__ = [
  "apply_override",
  "GENERIC_VARIANTS",
  "IDENTITY_KEYS",
  "ConfigError",
  "StrictConfigDict",
  "UnknownKeyError",
  "apply_variant",
  "base_config",
  "describe",
  "identity",
  "load_config",
  "load_experiment",
  "network_section",
  "parse_variant",
  "presets",
  "resolve_experiment",
  "validate",
  "write_config",
]
