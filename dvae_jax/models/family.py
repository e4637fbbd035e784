"""What the training loop knows of a model family, the family registry, and the config pieces
every family composes.

A family is a config dataclass (its hyperparameters, a ModelConfig), a Flax module built from it,
and a pure function of per-example loss terms. What it can do beyond training is what its module
offers, by method name (evaluation and figures look for these):
  reconstruct(x) -> probabilities [B, H, W, C]     every generative family
  corrupt(x) -> the noisy input [B, H, W, C]        denoisers (uses the "noise" stream)
  encode(x) -> (mean, logvar) [B, z]                latent-variable families
  output_logits(z [..., z]) -> logits [..., H, W, C]  latent-variable families (the model's output)
  log_prior(z [..., z]) -> [...]                    latent-variable families
  cluster(x) -> component index [B]                 latent-variable families (used with a mixture prior)
  classify(x) -> logits [B, classes]                the classifier
"""

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import flax.linen as nn
import jax

from dvae_jax import losses
from dvae_jax.models import hparams
from dvae_jax.models.networks import ARCHITECTURES, NetworkConfig, network_field

Terms = tuple[dict[str, jax.Array], jax.Array]  # (per-example metrics [B], per-example objective [B])

# Config fields that come from the data, not from the config file.
CONTEXT_FIELDS = ("image_shape", "num_classes")
LIKELIHOODS = ("bernoulli", "gaussian")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelConfig:
  """Fields every family has; a family's config subclasses it and adds its own."""

  family: str
  network: NetworkConfig = network_field("reference_conv")
  # L2 weight: weight * sum(w^2) / 2 on dense weights and biases and conv biases (the reference's set).
  weight_decay: float = 0.0
  image_shape: tuple[int, int, int] | None = None  # (H, W, C) after preprocessing; from the data
  num_classes: int | None = None  # from the data
  DECODES: ClassVar[bool] = True  # whether the family uses the network's decoder

  def __post_init__(self):
    hparams.check_positive(self, "weight_decay", allow_zero=True)
    if self.image_shape is not None and self.DECODES:
      self.network.check_image_shape(self.image_shape)

  @property
  def architecture(self):
    return ARCHITECTURES[self.network.name]


@dataclasses.dataclass(frozen=True, kw_only=True)
class LikelihoodConfig:
  """p(x | decoder output): Bernoulli on logits (sigmoid cross-entropy), or Gaussian with a fixed
  std on sigmoid(logits). Composed into every family that reconstructs images."""

  likelihood: str = "bernoulli"
  gaussian_log_std: float = 0.0

  def __post_init__(self):
    hparams.check_choice(self, "likelihood", LIKELIHOODS)

  def log_likelihood(self, logits: jax.Array, targets: jax.Array, *, batch_dims: int = 1) -> jax.Array:
    """log p(x | logits), summed over pixels and channels."""
    if self.likelihood == "bernoulli":
      return losses.bernoulli_log_likelihood(logits, targets, batch_dims=batch_dims)
    return losses.gaussian_log_likelihood(jax.nn.sigmoid(logits), targets, self.gaussian_log_std, batch_dims=batch_dims)


@dataclasses.dataclass(frozen=True)
class Family:
  """How the training loop sees a model family."""

  config: type[ModelConfig]
  module: Callable[[Any], nn.Module]  # module(config)
  terms: Callable[[dict[str, jax.Array], dict[str, jax.Array], Any], Terms]  # terms(outputs, batch, config)
  # Params path of the generator whose output is the model's output (for the reference's "test
  # loss" and its L2 term); None for a family without one.
  output_generator: tuple[str, ...] | None = None

  @property
  def generative(self) -> bool:
    return hasattr(self.module, "reconstruct")

  @property
  def latent(self) -> bool:
    return hasattr(self.module, "encode")

  @property
  def denoising(self) -> bool:
    return hasattr(self.module, "corrupt")


FAMILIES = hparams.Registry("family")


def get_family(name: str) -> Family:
  return FAMILIES.get_named(name)
