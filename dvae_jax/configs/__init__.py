"""The one config system: experiment files build a ConfigDict from `base_config` and the shared
`presets`, select `variants`, and are loaded, locked, by `load_experiment`; `validate` checks every
key and value before any work; `io` writes and reads a run's config.json and a checkpoint's identity.

  base.py        base_config(family, network): every key with its default; network_section(name)
  locking.py     StrictConfigDict: locked, a misspelt key is an error naming its section and the nearest keys
  presets.py     settings shared by experiments, one per published source or protocol
  variants.py    "smoke" and "cpu", and an experiment's own variants (split_variants)
  validation.py  validate(config)
  io.py          write_config / load_config (workdir/config.json), identity (what a checkpoint is)
  loader.py      load_experiment("mnist_vae:smoke" or a path)
"""

from dvae_jax.configs import presets
from dvae_jax.configs.base import base_config, network_section
from dvae_jax.configs.io import IDENTITY_KEYS, identity, load_config, write_config
from dvae_jax.configs.loader import load_experiment, resolve_experiment
from dvae_jax.configs.locking import StrictConfigDict, UnknownKeyError
from dvae_jax.configs.validation import validate
from dvae_jax.configs.variants import VARIANTS, apply_variant, split_variants
from dvae_jax.errors import ConfigError

__all__ = [
  "IDENTITY_KEYS",
  "VARIANTS",
  "ConfigError",
  "StrictConfigDict",
  "UnknownKeyError",
  "apply_variant",
  "base_config",
  "identity",
  "load_config",
  "load_experiment",
  "network_section",
  "presets",
  "resolve_experiment",
  "split_variants",
  "validate",
  "write_config",
]
