"""Priors p(z) of the latent-variable families, chosen by `model.prior.name`.

A prior config makes the Flax module that holds its parameters (`module(latent_dim)`, None for a
prior without parameters); the family calls `log_prob` and `sample` through it.
"""

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from dvae_jax.models import hparams

PRIORS = hparams.Registry("prior")
_LOG_2PI = math.log(2.0 * math.pi)


def standard_normal_log_prob(z: jax.Array) -> jax.Array:
  """log N(z; 0, I), summed over the last axis."""
  return -0.5 * jnp.sum(jnp.square(z) + _LOG_2PI, axis=-1)


def mixture_joint_log_prob(z: jax.Array, means: jax.Array, log_scales: jax.Array, log_weights: jax.Array) -> jax.Array:
  """log pi_k + log N(z; mu_k, diag sigma_k^2) [..., K] of codes [..., z], for means and log-scales
  [K, z] and log-weights [K]: the mixture's joint density of component and code, in log space (its
  softmax over k is the responsibilities p(k | z), its logsumexp log p(z))."""
  scaled = (z[..., None, :] - means) * jnp.exp(-log_scales)  # [..., K, z]
  log_normal = -0.5 * jnp.sum(jnp.square(scaled) + 2.0 * log_scales + _LOG_2PI, axis=-1)
  return log_weights + log_normal


@dataclasses.dataclass(frozen=True, kw_only=True)
class StandardNormalPrior:
  """N(0, I): the KL to a Gaussian posterior is analytic."""

  name: str = "standard"

  def module(self, latent_dim: int) -> nn.Module | None:
    del latent_dim
    return None


PRIORS.register("standard", StandardNormalPrior)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MixturePrior:
  """A learned mixture of Gaussians, p(z) = sum_k pi_k N(z; mu_k, diag sigma_k^2).

  The mixture logits (pi = softmax(logits)), means and log-scales are parameters of the model,
  trained with it. The KL of the ELBO has no closed form; the VAE estimates it by Monte Carlo with
  its decoded posterior draws, E_q[log q(z|x) - log p(z)] (vae.kl_terms), and its components
  cluster the data: `cluster(x)` assigns x to the most responsible component at its posterior mean.

  Why not the GMVAE of Dilokthanakul et al. (2016), which the original names: the GMVAE adds a
  discrete latent y with an inference network q(y|x), a second Gaussian latent w from which networks
  make each component's mean and variance, and an ELBO with a KL term for each of the three latents.
  This prior needs no extra inference network, and the VAE's ELBO, its importance-weighted NLL (which
  only needs log p(z)) and the DVAE wiring stay unchanged: only log p(z) changes. What it is not:
  the KL is estimated from the decoded draws (one per image with samples 1: unbiased, but a noisier
  gradient than an analytic KL), there is no amortized q(y|x) (a cluster is
  the prior's responsibility at the posterior mean, not an inferred posterior over y), and nothing
  keeps components from going unused (the GMVAE paper's remedy for that over-regularization, a
  minimum-information constraint, is not here).

  The means start at N(0, init_scale^2) draws (distinct, so the components can separate; all at 0
  they would receive identical gradients forever), the scales at 1, the weights uniform. With
  `learn_weights` False the weights stay uniform (1 / components).
  """

  name: str = "mixture"
  components: int = 10
  init_scale: float = 1.0  # std of the initial means
  learn_weights: bool = True

  def __post_init__(self):
    hparams.check_positive(self, "components", "init_scale")

  def module(self, latent_dim: int) -> nn.Module:
    return GaussianMixture(
      components=self.components,
      latent_dim=latent_dim,
      init_scale=self.init_scale,
      learn_weights=self.learn_weights,
    )


class GaussianMixture(nn.Module):
  """The parameters of a MixturePrior and its densities and samplers."""

  components: int
  latent_dim: int
  init_scale: float
  learn_weights: bool

  def setup(self):
    shape = (self.components, self.latent_dim)
    self.means = self.param("means", nn.initializers.normal(self.init_scale), shape)  # [K, z]
    self.log_scales = self.param("log_scales", nn.initializers.zeros, shape)  # [K, z]
    if self.learn_weights:
      self.logits = self.param("logits", nn.initializers.zeros, (self.components,))  # [K]
    else:
      self.logits = jnp.zeros((self.components,))

  def log_weights(self) -> jax.Array:
    """log pi_k [K]."""
    return jax.nn.log_softmax(self.logits)

  def parameters(self) -> dict[str, jax.Array]:
    """The mixture as arrays: means and log-scales [K, z], log-weights [K] (for a pure loss)."""
    return {"means": self.means, "log_scales": self.log_scales, "log_weights": self.log_weights()}

  def joint_log_prob(self, z: jax.Array) -> jax.Array:
    """log pi_k + log N(z; mu_k, diag sigma_k^2) [..., K] of codes [..., z]."""
    return mixture_joint_log_prob(z, self.means, self.log_scales, self.log_weights())

  def log_prob(self, z: jax.Array) -> jax.Array:
    """log p(z) [...] of codes [..., z]."""
    return logsumexp(self.joint_log_prob(z), axis=-1)

  def responsibilities(self, z: jax.Array) -> jax.Array:
    """p(component k | z) [..., K] of codes [..., z]."""
    return jax.nn.softmax(self.joint_log_prob(z), axis=-1)

  def sample(self, key: jax.Array, num: int) -> jax.Array:
    """`num` codes [num, z] from the mixture."""
    component_key, noise_key = jax.random.split(key)
    component = jax.random.categorical(component_key, self.log_weights(), shape=(num,))  # [num]
    noise = jax.random.normal(noise_key, (num, self.latent_dim))
    return self.means[component] + jnp.exp(self.log_scales[component]) * noise

  def sample_per_component(self, key: jax.Array, num: int) -> jax.Array:
    """`num` codes from each component, [K, num, z]."""
    noise = jax.random.normal(key, (self.components, num, self.latent_dim))
    return self.means[:, None] + jnp.exp(self.log_scales[:, None]) * noise


PRIORS.register("mixture", MixturePrior)


def prior_field(default: str = "standard"):
  return hparams.choice(PRIORS, default)
