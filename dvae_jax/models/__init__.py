"""Model families and networks, picked by name from one registry."""

from dvae_jax.models.families import FAMILIES, Family, get_family
from dvae_jax.models.spec import ModelSpec, spec_from_config

__all__ = ["FAMILIES", "Family", "ModelSpec", "get_family", "spec_from_config"]
