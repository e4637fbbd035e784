"""Priors p(z) of the latent-variable families, chosen by `model.prior.name`.

A prior config makes the Flax module that holds its parameters (`module(latent_dim)`, None for a
prior without parameters); the family calls `log_prob` and `sample` through it.
"""

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from dvae_jax.models import hparams

PRIORS = hparams.Registry("prior")
_LOG_2PI = math.log(2.0 * math.pi)


def standard_normal_log_prob(z: jax.Array) -> jax.Array:
  """log N(z; 0, I), summed over the last axis."""
  return -0.5 * jnp.sum(jnp.square(z) + _LOG_2PI, axis=-1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class StandardNormalPrior:
  """N(0, I): the KL to a Gaussian posterior is analytic."""

  name: str = "standard"

  def module(self, latent_dim: int) -> nn.Module | None:
    del latent_dim
    return None


PRIORS.register("standard", StandardNormalPrior)


def prior_field(default: str = "standard"):
  return hparams.choice(PRIORS, default)
