"""The variational autoencoder (the `vae` family), as dojoteef/dvae builds it.

A diagonal Gaussian posterior q(z|x) from the network's encoder features, a prior (N(0, I) by
default, see priors.py), and the network's decoder as p(x|z). The reference also trains a label
head on the encoder features (`label_head`). Its DVAE, which feeds the VAE's output to a DAE, is
the `dvae` family (dvae.py); Im et al.'s input-corruption denoising VAE is `input_corruption_vae`.
"""

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from dvae_jax import losses
from dvae_jax.models import hparams
from dvae_jax.models.family import FAMILIES, Family, Generator, LikelihoodConfig, ModelConfig, Terms
from dvae_jax.models.layers import batch_norm, dense
from dvae_jax.models.priors import prior_field, standard_normal_log_prob

SAMPLE_MODES = ("average_z", "elbo")
POSTERIOR_SCALES = ("logvar", "softplus")
POSTERIOR_HEADS = ("dense", "dense_bn_relu")


@dataclasses.dataclass(frozen=True, kw_only=True)
class VAEConfig(ModelConfig, LikelihoodConfig):
  """Defaults: the reference MNIST VAE (docs/reference.md)."""

  family: str = "vae"
  weight_decay: float = 5e-4
  l2_scheme: str = "reference"
  latent_dim: int = 50
  prior: object = prior_field("standard")
  samples: int = 1
  # "average_z": the reference's, decode the mean of `samples` posterior draws once;
  # "elbo": decode `samples` draws and average the k-sample ELBO.
  sample_mode: str = "average_z"
  label_head: bool = True  # the reference's hidden supervised term on the encoder features
  label_loss_weight: float = 1.0
  # The reference's label head is FC -> batch norm (scale 1, offset 0 fixed), no activation: its
  # logits are normalized, so the label cross-entropy cannot reach 0. False: a plain FC head.
  label_batch_norm: bool = True
  # What the posterior's scale head outputs: "logvar", log sigma^2 (the reference's); "softplus",
  # h with sigma = softplus(h) (arunarn2/AutoEncoder's MLP VAE, docs/reference.md).
  posterior_scale: str = "logvar"
  # The heads from the encoder features to the mean and the scale: "dense", plain dense layers
  # (unconstrained); "dense_bn_relu", each followed by batch norm (Gluon's: trainable scale and offset,
  # epsilon 1e-5, the network's momentum) and a ReLU, as xuganyu96/VAE-GAN-learnable-loss's conv VAEs end
  # their encoder (Dense(2 z) -> BatchNorm -> ReLU, split into mean and log-variance): both >= 0, so with
  # posterior_scale "logvar" sigma >= 1.
  posterior_head: str = "dense"

  def __post_init__(self):
    ModelConfig.__post_init__(self)
    LikelihoodConfig.__post_init__(self)
    hparams.check_positive(self, "latent_dim", "samples")
    hparams.check_choice(self, "sample_mode", SAMPLE_MODES)
    hparams.check_choice(self, "posterior_scale", POSTERIOR_SCALES)
    hparams.check_choice(self, "posterior_head", POSTERIOR_HEADS)
    hparams.check_positive(self, "label_loss_weight", allow_zero=True)


@dataclasses.dataclass(frozen=True, kw_only=True)
class UnsupervisedVAEConfig(VAEConfig):
  """A VAE config whose family fixes, rather than reads, the reference's extras: `samples` draws
  averaged as a k-sample ELBO, no label head (these are not config keys)."""

  sample_mode: str = dataclasses.field(default="elbo", init=False)
  label_head: bool = dataclasses.field(default=False, init=False)
  label_loss_weight: float = dataclasses.field(default=0.0, init=False)
  label_batch_norm: bool = dataclasses.field(default=False, init=False)


def reparameterize(key: jax.Array, mean: jax.Array, logvar: jax.Array, *, samples: int, mode: str) -> jax.Array:
  """Draws posterior codes [S, B, z].

  mode "elbo": S = samples independent draws (the k-sample ELBO average).
  mode "average_z": the reference's scheme, S = 1: draw `samples` codes and average them, so that
  z = mean + sigma * eps_bar with eps_bar ~ N(0, I / samples).
  """
  eps = jax.random.normal(key, (samples, *mean.shape), mean.dtype)
  if mode == "average_z":
    eps = jnp.mean(eps, axis=0, keepdims=True)
  return mean + jnp.exp(0.5 * logvar) * eps


def decoded_logvar(logvar: jax.Array, config: VAEConfig) -> jax.Array:
  """Log-variance of the posterior the decoder actually sees.

  The reference's "average_z" mode decodes the mean of k draws, z ~ N(mean, sigma^2 / k), while its
  KLD is charged for sigma^2; an ELBO (and an importance-weighted bound) must use sigma^2 / k.
  """
  if config.sample_mode == "average_z" and config.samples > 1:
    return logvar - math.log(config.samples)
  return logvar


def softplus_logvar(h: jax.Array) -> jax.Array:
  """log sigma^2 of sigma = softplus(h), i.e. 2 log softplus(h), computed stably.

  For h << 0, softplus(h) = exp(h) (1 - exp(h) / 2 + ...) underflows to 0 in float32 (below
  h = -103, giving -inf) while log softplus(h) tends to h; below -20 the two agree to float32
  precision, so h itself is used there. (arunarn2/AutoEncoder adds 1e-6 to sigma instead.)
  """
  threshold = -20.0
  below = h < threshold
  # The branch not taken still gets gradients: feed it a safe input, so they stay finite.
  log_softplus = jnp.log(jax.nn.softplus(jnp.where(below, threshold, h)))
  return 2.0 * jnp.where(below, h, log_softplus)


class InferenceNet(nn.Module):
  """The network's encoder plus the Gaussian posterior heads and the optional label head."""

  config: VAEConfig

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> dict[str, jax.Array]:
    cfg = self.config
    features = cfg.architecture.encoder(cfg.network, name="trunk")(x, train=train)  # [B, F]
    out = {"features": features, "mean": posterior_head(cfg, features, "mean", train=train)}  # mean [B, z]
    if cfg.posterior_scale == "logvar":
      out["logvar"] = posterior_head(cfg, features, "logvar", train=train)  # [B, z]
    else:  # "softplus": the head outputs h, and sigma = softplus(h)
      out["logvar"] = softplus_logvar(posterior_head(cfg, features, "scale", train=train))  # [B, z]
    if cfg.label_head:
      out["label_logits"] = label_logits(cfg, features, train=train)  # [B, classes]
    return out


def posterior_head(config: VAEConfig, features: jax.Array, name: str, *, train: bool) -> jax.Array:
  """One posterior head, features [B, F] -> [B, z], as `config.posterior_head` says."""
  h = dense(config.latent_dim, config.network.kernel_init, name)(features)
  if config.posterior_head == "dense":
    return h
  # "dense_bn_relu": the two heads together are the original's Dense(2 z) -> BatchNorm -> ReLU (batch norm
  # normalizes each unit on its own, so splitting it in two changes nothing).
  momentum = config.network.batch_norm_momentum or 0.9  # Gluon's default, for a network without batch norm
  norm = nn.BatchNorm(use_running_average=not train, momentum=momentum, epsilon=1e-5, name=f"bn_{name}")
  return nn.relu(norm(h))


def label_logits(config: ModelConfig, features: jax.Array, *, train: bool) -> jax.Array:
  """The reference's label layer: FC -> classes, then (if `label_batch_norm`) batch norm with fixed
  scale and offset and the network's momentum (0.99 for a network without batch norm)."""
  logits = dense(config.num_classes, config.network.kernel_init, "label_head")(features)
  momentum = config.network.batch_norm_momentum
  norm = batch_norm(config.label_batch_norm, "bn_label_head", train=train, momentum=momentum or 0.99)
  return norm(logits)


class VAE(nn.Module):
  config: VAEConfig

  def setup(self):
    cfg = self.config
    self.inference = InferenceNet(cfg)
    self.generator = cfg.architecture.decoder(cfg.network, cfg.image_shape)
    self.prior = cfg.prior.module(cfg.latent_dim)

  def decode(self, z: jax.Array, *, train: bool = False) -> jax.Array:
    """codes [..., z] -> logits [..., H, W, C]."""
    lead = z.shape[:-1]
    logits = self.generator(z.reshape(-1, z.shape[-1]), train=train)
    return logits.reshape(*lead, *self.config.image_shape)

  def __call__(self, x: jax.Array, *, train: bool) -> dict[str, jax.Array]:
    cfg = self.config
    posterior = self.inference(x, train=train)
    z = reparameterize(
      self.make_rng("reparam"), posterior["mean"], posterior["logvar"], samples=cfg.samples, mode=cfg.sample_mode
    )  # [S, B, z]
    out = {**posterior, "z": z, "logits": self.decode(z, train=train)}  # logits [S, B, H, W, C]
    if self.prior is not None:  # a prior with parameters: the terms need log p(z) of the draws
      out["log_prior"] = self.prior.log_prob(z)  # [S, B]
    return out

  def reconstruct(self, x: jax.Array) -> jax.Array:
    """One stochastic reconstruction per image, the likelihood's mean [B, H, W, C] (eval mode)."""
    return self.config.mean(self(x, train=False)["logits"][0])

  def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Posterior mean and log-variance [B, z] (eval mode)."""
    posterior = self.inference(x, train=False)
    return posterior["mean"], posterior["logvar"]

  def output_logits(self, z: jax.Array) -> jax.Array:
    """Codes [..., z] -> logits of the model's output [..., H, W, C] (eval mode)."""
    return self.decode(z)

  def log_prior(self, z: jax.Array) -> jax.Array:
    """log p(z) [...] of codes [..., z]."""
    return standard_normal_log_prob(z) if self.prior is None else self.prior.log_prob(z)

  def sample_prior(self, key: jax.Array, num: int) -> jax.Array:
    """`num` codes [num, z] drawn from the prior."""
    if self.prior is None:
      return jax.random.normal(key, (num, self.config.latent_dim))
    return self.prior.sample(key, num)

  def _mixture(self, method: str) -> nn.Module:
    if not hasattr(self.prior, "responsibilities"):
      raise ValueError(
        f"{method} needs a prior with components (model.prior.name='mixture'); "
        f"this model's prior is {self.config.prior.name!r}."
      )
    return self.prior

  def sample_prior_components(self, key: jax.Array, num: int) -> jax.Array:
    """`num` codes from each component of a mixture prior, [K, num, z]."""
    return self._mixture("sample_prior_components").sample_per_component(key, num)

  def cluster(self, x: jax.Array) -> jax.Array:
    """The mixture component [B] most responsible for each image's posterior mean (eval mode)."""
    mixture = self._mixture("cluster")
    mean, _ = self.encode(x)
    return jnp.argmax(mixture.responsibilities(mean), axis=-1)


def _label_terms(logits: jax.Array, labels: jax.Array) -> dict[str, jax.Array]:
  return {
    "label_ce_nats": losses.softmax_cross_entropy(logits, labels),
    "label_error": (jnp.argmax(logits, axis=-1) != labels).astype(jnp.float32),
  }


def kl_terms(outputs: dict[str, jax.Array], config: VAEConfig) -> tuple[jax.Array, jax.Array]:
  """(the KL that is trained on, the KL of the posterior actually decoded), per example [B].

  N(0, I) prior: both analytic; the first is the reference's KLD (charged for sigma^2 even when
  "average_z" decodes sigma^2 / k). A prior with parameters: Monte-Carlo estimates with the
  decoded draws z, log q(z|x) - log p(z) averaged over the S draws (one and the same estimate).
  """
  mean, logvar = outputs["mean"], outputs["logvar"]
  if "log_prior" not in outputs:
    return losses.kl_divergence(mean, logvar), losses.kl_divergence(mean, decoded_logvar(logvar, config))
  log_q = losses.diagonal_gaussian_log_density(outputs["z"], mean, decoded_logvar(logvar, config))  # [S, B]
  kl = jnp.mean(log_q - outputs["log_prior"], axis=0)
  return kl, kl


def vae_terms(outputs: dict[str, jax.Array], batch: dict[str, jax.Array], config: VAEConfig) -> Terms:
  x = batch["image"]
  # Average over the S posterior draws: the k-sample ELBO (S = 1 for "average_z").
  recon = -jnp.mean(config.log_likelihood(outputs["logits"], x[None], batch_dims=2), axis=0)
  kl, elbo_kl = kl_terms(outputs, config)
  terms = {
    "recon_nats": recon,
    "kl_nats": kl,  # what is trained on, and what the reference reports as its KLD
    "elbo_kl_nats": elbo_kl,  # the KL of the posterior actually decoded
    "neg_elbo_nats": recon + elbo_kl,
    "output_recon_nats": recon,
    "output_neg_elbo_nats": recon + elbo_kl,
  }
  objective = recon + kl
  if config.label_head:
    label = _label_terms(outputs["label_logits"], batch["label"])
    terms.update(label)
    objective = objective + config.label_loss_weight * label["label_ce_nats"]
  return terms, objective


def vae_l2_multiplicity(path: tuple[str, ...], config: VAEConfig) -> int:
  """The reference VAE's per-image L2 count of a parameter: its loss is the sum of the "vae" scope's
  loss (KL + every variable's L2), the generator's (BCE + the generator's L2) and the recognition
  net's (label CE + the encoder's L2, label head included): 2 R_gen + 2 R_enc + R_mean + R_logvar."""
  del config
  if path[:1] == ("generator",) or path[:2] in {("inference", "trunk"), ("inference", "label_head")}:
    return 2
  return 1


FAMILIES.register(
  "vae",
  Family(
    VAEConfig,
    VAE,
    vae_terms,
    generators=(Generator("decoder", ("generator",), "recon_nats"),),
    l2_multiplicity=vae_l2_multiplicity,
  ),
)
