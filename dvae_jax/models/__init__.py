"""Model families and networks, each picked by name from its registry.

Adding a family: a module file here with its config dataclass (a ModelConfig subclass), its Flax
module, its pure `terms(outputs, batch, config)` and one `FAMILIES.register(...)` line; import the
file below; add an experiment config. The training loop does not change.
"""

from typing import Any

from dvae_jax.errors import ConfigError
from dvae_jax.models import (  # noqa: F401 (registration)
  autoencoder,
  classifier,
  dvae,
  hparams,
  input_corruption_vae,
  vade,
  vae,
  vae_gan,
)
from dvae_jax.models.family import CONTEXT_FIELDS, FAMILIES, Family, ModelConfig, get_family
from dvae_jax.models.networks import ARCHITECTURES

__all__ = [
  "ARCHITECTURES",
  "FAMILIES",
  "Family",
  "ModelConfig",
  "default_model_config",
  "get_family",
  "model_config",
  "renamed",
]


def renamed() -> dict[str, str]:
  """The names of families and networks that an earlier version wrote into its runs -> today's names."""
  return {**FAMILIES.renamed, **ARCHITECTURES.renamed}


def default_model_config(family: str, network: str | None = None) -> dict[str, Any]:
  """The config section (a nested dict) of `family` with its defaults, on `network` if given."""
  family = FAMILIES.canonical(family)
  cls = get_family(family).config
  kwargs = {"family": family}
  if network is not None:
    kwargs["network"] = ARCHITECTURES.get_named(network).config()
  return hparams.to_dict(cls(**kwargs), exclude=CONTEXT_FIELDS)


def model_config(section: Any, **context: Any) -> ModelConfig:
  """The typed config of `config.model` (a ConfigDict or dict); `context`: image_shape, num_classes."""
  values = section.to_dict() if hasattr(section, "to_dict") else dict(section)
  if "family" not in values:
    raise ConfigError(f"config.model has no 'family' key; valid families: {sorted(FAMILIES)}.")
  try:
    family = get_family(values["family"])
  except ConfigError as e:
    raise ConfigError(f"config.model.family: {e}") from None
  values["family"] = FAMILIES.canonical(values["family"])
  config = hparams.build(family.config, values, path="model", **context)
  family.check(config, values["family"])
  return config
