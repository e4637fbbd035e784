"""Autoencoders: plain, denoising (input corruption) and sparse (a penalty on the code).

The network's encoder features are the code; the network's decoder reconstructs the clean image
from it. With a corruption (`corruption.name` other than "none") the encoder sees the corrupted
image and the target stays the clean one: a denoising autoencoder. With a sparsity penalty
(`sparsity.name`, below) the code is pushed towards few active units: a sparse autoencoder.

The decoder's output is logits whose sigmoid is the image, or with a Gaussian likelihood and
`gaussian_mean="identity"` the image itself (a linear output layer, as Keras autoencoders trained
with MSE have; family.LikelihoodConfig). The loss scores that mean as it is; every "ae" model also
reports, per image, how close its output is to the clean image as an image, i.e. clipped to [0, 1]
for a linear output (`recon_mse`, the sum of squared errors, and `psnr_db`: the PSNR a user would
measure on the saved image), the same for its corrupted input (`noisy_mse`, `noisy_psnr_db`, with a
corruption), and its code's activity (`code_mean_activation`, `code_active_fraction`,
`sparsity_penalty`).
"""

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from dvae_jax.models import hparams
from dvae_jax.models.corruption import corruption_field
from dvae_jax.models.family import FAMILIES, Family, Generator, LikelihoodConfig, ModelConfig, Terms

# A code unit counts as active above this value (for sigmoid codes: a sparse AE's target activation
# is typically 0.05-0.1, and an inactive unit sits near 0).
ACTIVE_THRESHOLD = 0.1
# The KL penalty's batch-mean activations are clipped to [eps, 1 - eps], so that a unit that is
# (numerically) always off or always on gives a large but finite penalty.
KL_EPS = 1e-6
# Per-pixel MSE floor for the PSNR: an exact reconstruction reads 100 dB, not infinity.
MSE_FLOOR = 1e-10

SPARSITY = hparams.Registry("sparsity")


@dataclasses.dataclass(frozen=True, kw_only=True)
class NoSparsity:
  name: str = "none"

  def penalty(self, code: jax.Array) -> jax.Array:
    return jnp.zeros(code.shape[:1], code.dtype)


@dataclasses.dataclass(frozen=True, kw_only=True)
class L1Sparsity:
  """weight * sum_j |code_j| per image: Keras's ActivityRegularization(l1=weight) (tf.keras divides an
  activity penalty by the batch size, which makes it this per-image term)."""

  name: str = "l1"
  weight: float = 1e-4

  def __post_init__(self):
    hparams.check_positive(self, "weight", allow_zero=True)

  def penalty(self, code: jax.Array) -> jax.Array:
    return self.weight * jnp.sum(jnp.abs(code), axis=-1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class KLSparsity:
  """weight * sum_j KL(target || rho_j), rho_j the mean activation of code unit j over the batch.

  The codes must lie in (0, 1) (a sigmoid code layer), since each unit is read as a Bernoulli
  probability. The penalty belongs to the batch, not to an image: it is added to every image's
  objective, so that the mean over the batch is "mean reconstruction + weight * KL" (with
  optim.batch_reduction="sum" it counts batch-size times). In evaluation the batch is the
  evaluation batch, whose padding (copies of the split's last image) shifts the last batch's rho_j.
  """

  name: str = "kl"
  weight: float = 1.0
  target: float = 0.1

  def __post_init__(self):
    hparams.check_positive(self, "weight", allow_zero=True)
    hparams.check_range(self, "target", 0.0, 1.0, low_open=True)

  def penalty(self, code: jax.Array) -> jax.Array:
    rho = jnp.clip(jnp.mean(code, axis=0), KL_EPS, 1.0 - KL_EPS)  # [D]
    kl = jnp.sum(bernoulli_kl(self.target, rho))
    return jnp.full(code.shape[:1], self.weight * kl, code.dtype)


for _cls in (NoSparsity, L1Sparsity, KLSparsity):
  SPARSITY.register(_cls.name, _cls)


def bernoulli_kl(p: float, q: jax.Array) -> jax.Array:
  """KL(Bernoulli(p) || Bernoulli(q)), elementwise, for p and q in (0, 1)."""
  return p * jnp.log(p / q) + (1.0 - p) * jnp.log((1.0 - p) / (1.0 - q))


def squared_error(images: jax.Array, targets: jax.Array) -> jax.Array:
  """Sum of squared errors per image [B], over pixels and channels."""
  return jnp.sum(jnp.square(images - targets), axis=tuple(range(1, images.ndim)))


def psnr_db(sum_squared_error: jax.Array, num_pixels: int) -> jax.Array:
  """10 log10(1 / per-pixel MSE) per image, for images in [0, 1] (data range 1)."""
  return -10.0 * jnp.log10(jnp.maximum(sum_squared_error / num_pixels, MSE_FLOOR))


def code_activation_name(network) -> str | None:
  """The activation of a network's code layer, where its config names one (else None)."""
  return getattr(network, "code_activation", None) or getattr(network, "activation", None)


@dataclasses.dataclass(frozen=True, kw_only=True)
class AEConfig(ModelConfig, LikelihoodConfig):
  family: str = "ae"
  corruption: object = corruption_field("none")
  sparsity: object = hparams.choice(SPARSITY, "none")

  def __post_init__(self):
    ModelConfig.__post_init__(self)
    LikelihoodConfig.__post_init__(self)
    activation = code_activation_name(self.network)
    if self.sparsity.name == "kl" and activation != "sigmoid":
      raise hparams.FieldError(
        "sparsity",
        "the 'kl' penalty reads each code unit as a probability, so the code must come from a sigmoid layer "
        f"(e.g. network 'mlp' with code_activation='sigmoid'), but network {self.network.name!r} has code "
        f"activation {activation!r}",
      )


class Autoencoder(nn.Module):
  config: AEConfig

  def setup(self):
    cfg = self.config
    self.encoder = cfg.architecture.encoder(cfg.network)
    self.generator = cfg.architecture.decoder(cfg.network, cfg.image_shape)

  def corrupt(self, x: jax.Array) -> jax.Array:
    """The encoder's input: x corrupted with the "noise" stream (x itself without corruption)."""
    return self.config.corruption(self.make_rng("noise"), x)

  def __call__(self, x: jax.Array, *, train: bool) -> dict[str, jax.Array]:
    noisy = self.corrupt(x)
    code = self.encoder(noisy, train=train)  # [B, D]
    return {"noisy": noisy, "code": code, "logits": self.generator(code, train=train)[None]}  # logits [1, B, H, W, C]

  def reconstruct(self, x: jax.Array) -> jax.Array:
    """The likelihood's mean [B, H, W, C] reconstructed from a corrupted x (eval mode): probabilities,
    or a linear output as it is (not clipped; `config.image` clips it for drawing and scoring)."""
    return self.config.mean(self(x, train=False)["logits"][0])


def ae_terms(outputs: dict[str, jax.Array], batch: dict[str, jax.Array], config: AEConfig) -> Terms:
  """Per-image terms; the objective is the reconstruction loss plus the sparsity penalty."""
  clean, logits, code = batch["image"], outputs["logits"][0], outputs["code"]
  num_pixels = math.prod(clean.shape[1:])
  # The target is the clean image, never outputs["noisy"].
  recon = -config.log_likelihood(logits, clean)
  recon_mse = squared_error(config.image(config.mean(logits)), clean)
  penalty = config.sparsity.penalty(code)
  terms = {
    "recon_nats": recon,
    "output_recon_nats": recon,
    "recon_mse": recon_mse,
    "psnr_db": psnr_db(recon_mse, num_pixels),
    "sparsity_penalty": penalty,
    "code_mean_activation": jnp.mean(code, axis=-1),
    "code_active_fraction": jnp.mean(code > ACTIVE_THRESHOLD, axis=-1, dtype=code.dtype),
  }
  if config.corruption.name != "none":
    noisy_mse = squared_error(outputs["noisy"], clean)
    terms.update(noisy_mse=noisy_mse, noisy_psnr_db=psnr_db(noisy_mse, num_pixels))
  return terms, recon + penalty


FAMILIES.register(
  "ae", Family(AEConfig, Autoencoder, ae_terms, generators=(Generator("decoder", ("generator",), "output_recon_nats"),))
)
