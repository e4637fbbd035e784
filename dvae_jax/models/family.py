"""What the training loop knows of a model family, the family registry, and the config pieces
every family composes.

A family is a config dataclass (its hyperparameters, a ModelConfig), a Flax module built from it,
and a pure function of per-example loss terms. What it can do beyond training is what its module
offers, by method name (evaluation and figures look for these):
  reconstruct(x) -> the likelihood's mean [B, H, W, C]  every generative family (LikelihoodConfig.mean)
  corrupt(x) -> the noisy input [B, H, W, C]        denoisers (uses the "noise" stream)
  encode(x) -> (mean, logvar) [B, z]                latent-variable families
  output_logits(z [..., z]) -> logits [..., H, W, C]  latent-variable families (the model's output)
  log_prior(z [..., z]) -> [...]                    latent-variable families
  cluster(x) -> component index [B]                 latent-variable families (used with a mixture prior)
  classify(x) -> logits [B, classes]                the classifier
  features(x) -> penultimate features [B, F]        the classifier
"""

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from dvae_jax import losses
from dvae_jax.errors import ConfigError
from dvae_jax.models import hparams
from dvae_jax.models.networks import ARCHITECTURES, NetworkConfig, network_field

Terms = tuple[dict[str, jax.Array], jax.Array]  # (per-example metrics [B], per-example objective [B])

# Config fields that come from the data, not from the config file.
CONTEXT_FIELDS = ("image_shape", "num_classes")
LIKELIHOODS = ("bernoulli", "gaussian")
# What the decoder's output is to a Gaussian likelihood: "sigmoid", logits whose sigmoid is the mean;
# "identity", the mean itself (a linear output layer, as Keras autoencoders trained with MSE end).
GAUSSIAN_MEANS = ("sigmoid", "identity")
# How weight_decay enters the loss. "single": weight_decay * sum(w^2) / 2, added once to the batch
# objective. "reference": dojoteef/dvae's accounting (docs/reference.md, "HOW MUCH L2"): every
# image's loss carries the L2 term of each variable scope its loss terms belong to, so a parameter
# counts once per image per scope (the family's `l2_multiplicity`), and the penalty is reduced over
# the batch like the data term (x B for the reference's batch sum).
L2_SCHEMES = ("single", "reference")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelConfig:
  """Fields every family has; a family's config subclasses it and adds its own."""

  family: str
  network: NetworkConfig = network_field("dojoteef_conv")
  # L2 weight: weight * sum(w^2) / 2 on dense weights and biases and conv biases (the reference's
  # set), counted as `l2_scheme` says.
  weight_decay: float = 0.0
  l2_scheme: str = "single"
  image_shape: tuple[int, int, int] | None = None  # (H, W, C) after preprocessing; from the data
  num_classes: int | None = None  # from the data
  DECODES: ClassVar[bool] = True  # whether the family uses the network's decoder

  def __post_init__(self):
    hparams.check_positive(self, "weight_decay", allow_zero=True)
    hparams.check_choice(self, "l2_scheme", L2_SCHEMES)
    if self.DECODES and self.architecture.decoder is None:
      decoders = sorted(name for name, architecture in ARCHITECTURES.items() if architecture.decoder is not None)
      raise hparams.FieldError(
        "network", f"the {self.network.name!r} network has no decoder; expected one of {decoders}"
      )
    if self.image_shape is not None and self.DECODES:
      self.network.check_image_shape(self.image_shape)

  @property
  def architecture(self):
    return ARCHITECTURES[self.network.name]


@dataclasses.dataclass(frozen=True, kw_only=True)
class LikelihoodConfig:
  """p(x | decoder output): Bernoulli on logits (sigmoid cross-entropy), or Gaussian with a fixed
  std around a mean that is sigmoid(output) (`gaussian_mean` "sigmoid") or the output itself
  ("identity": a linear output layer, unbounded). Composed into every family that reconstructs
  images; `mean` and `image` are how those families and evaluation turn the output into images."""

  likelihood: str = "bernoulli"
  gaussian_log_std: float = 0.0
  gaussian_mean: str = "sigmoid"

  def __post_init__(self):
    hparams.check_choice(self, "likelihood", LIKELIHOODS)
    hparams.check_choice(self, "gaussian_mean", GAUSSIAN_MEANS)
    if self.likelihood != "gaussian" and self.gaussian_mean != "sigmoid":
      raise hparams.FieldError(
        "gaussian_mean", f"expected 'sigmoid' with likelihood={self.likelihood!r} (its mean is sigmoid(logits))"
      )

  @property
  def linear_mean(self) -> bool:
    """Whether the decoder's output is the mean itself (not bounded to [0, 1])."""
    return self.likelihood == "gaussian" and self.gaussian_mean == "identity"

  def mean(self, logits: jax.Array) -> jax.Array:
    """The likelihood's mean for the decoder's output: sigmoid(logits), or the output as it is for a
    linear output. What the loss scores and what `reconstruct` returns (not clipped)."""
    return logits if self.linear_mean else jax.nn.sigmoid(logits)

  def image(self, mean: jax.Array) -> jax.Array:
    """A mean as an image in [0, 1], for drawing and scoring (PSNR, SSIM, a classifier): a linear
    output clipped to [0, 1]; a sigmoid mean as it is (already inside)."""
    return jnp.clip(mean, 0.0, 1.0) if self.linear_mean else mean

  def log_likelihood(self, logits: jax.Array, targets: jax.Array, *, batch_dims: int = 1) -> jax.Array:
    """log p(x | logits), summed over pixels and channels; a Gaussian's mean is not clipped."""
    if self.likelihood == "bernoulli":
      return losses.bernoulli_log_likelihood(logits, targets, batch_dims=batch_dims)
    return losses.gaussian_log_likelihood(self.mean(logits), targets, self.gaussian_log_std, batch_dims=batch_dims)


@dataclasses.dataclass(frozen=True)
class Generator:
  """A decoder whose reconstruction loss the reference reports as a "test loss": that loss is the
  per-image `recon_term` plus the L2 term of the parameters under `path`, counted once."""

  label: str  # metric suffix: reference_loss_<label>, reference_l2_<label>
  path: tuple[str, ...]  # where its parameters are in the params tree
  recon_term: str  # the per-example term holding its reconstruction loss


@dataclasses.dataclass(frozen=True)
class Family:
  """How the training loop sees a model family."""

  config: type[ModelConfig]
  module: Callable[[Any], nn.Module]  # module(config)
  terms: Callable[[dict[str, jax.Array], dict[str, jax.Array], Any], Terms]  # terms(outputs, batch, config)
  # The decoders whose reference "test loss" is reported; the first produces the model's output
  # (its loss is `reference_loss`). Empty for a family without one.
  generators: tuple[Generator, ...] = ()
  # l2_multiplicity(params path, config) -> how many of the reference's per-image loss terms count
  # that parameter's L2 (l2_scheme "reference"); None: the family has no reference accounting.
  l2_multiplicity: Callable[[tuple[str, ...], Any], int] | None = None
  # The top-level params subtree of a second player (a discriminator), which gets its own
  # optimizer (experiment.make_optimizer); None for a family with one.
  discriminator_params: str | None = None
  # How a fresh run of this family starts from the finished run of family `init_source` that
  # config.init_workdir names (VaDE: a pretrained autoencoder and a GMM fit of its codes):
  # initialize(params, source params, codes, config, seed) -> (params, record), host params in and out;
  # codes(params) are the posterior means [N, z] of the training split under `params`; the record's
  # numbers go to initialization.json (workdir.initialized). None: the random init only.
  initialize: Callable[..., tuple[dict[str, Any], dict[str, Any]]] | None = None
  init_source: str | None = None

  def check(self, config: ModelConfig, name: str) -> None:
    """Config checks that need the family as well as its config."""
    if config.l2_scheme == "reference" and self.l2_multiplicity is None:
      raise ConfigError(
        f"config.model.l2_scheme='reference' is dojoteef/dvae's per-scope L2 accounting, defined for the vae, dvae "
        f"and classifier families; the {name!r} family has none: expected l2_scheme='single'."
      )

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
