"""The VAE with a learnable loss (xuganyu96/VAE-GAN-learnable-loss): a discriminator trained to tell
real images from the VAE's reconstructions supplies a loss that supplements the pixel-by-pixel one.

  VAE loss            KL + w_pbp * PBP + w_disc * BCE(D(reconstruction), real)
  discriminator loss  BCE(D(x), real) + BCE(D(reconstruction), reconstructed)

Both players are one Flax module and one parameter tree ({"inference", "generator", "discriminator"}),
trained by the one training step of every family: the per-image objective is the sum of the two
losses, and each player's loss sees the other's parameters through `stop_gradient` (the VAE's
adversarial term applies the discriminator with frozen parameters; the discriminator sees the
reconstruction with its gradient stopped). The gradient of the sum is then exactly each loss's
gradient with respect to its own player's parameters, and the optimizer gives the discriminator's
subtree its own Adam (`optim.discriminator_learning_rate`; train.make_optimizer).

Schedules, in epochs of training (the step's `epoch` in the batch): `solo_epochs` of the VAE alone
(neither adversarial term; the discriminator's gradient is zero and its parameters stay put: Adam's
moments stay zero, though its step count runs on, so its first combo updates are larger than a
fresh Adam's, up to ~3x the learning rate) before the "combo" epochs, and w_pbp multiplied by
`pbp_decay` every `pbp_decay_epochs` combo epochs.
PBP is the likelihood's: BCE for "bernoulli"; L2 (the sum of squared errors, up to a constant) for
"gaussian" with gaussian_log_std = -log(2) / 2, i.e. variance 1/2.
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from dvae_jax.models import hparams
from dvae_jax.models.family import FAMILIES, Family, Generator, Terms
from dvae_jax.models.layers import dense
from dvae_jax.models.networks import ARCHITECTURES, NetworkConfig
from dvae_jax.models.vae import VAE, UnsupervisedVAEConfig, vae_terms


def discriminator_field(default: str):
  """The `discriminator` field: any registered network, used as an encoder (its decoder unused)."""
  return hparams.choice(ARCHITECTURES, default, config_of=lambda architecture: architecture.config)


@dataclasses.dataclass(frozen=True, kw_only=True)
class VAEGANConfig(UnsupervisedVAEConfig):
  """Defaults: the learnable-loss VAE's MNIST run with the dense logistic-regressor discriminator."""

  family: str = "vae_gan"
  weight_decay: float = 0.0
  l2_scheme: str = "single"
  discriminator: NetworkConfig = discriminator_field("dense_discriminator")
  disc_weight: float = 10.0  # w_disc (xuganyu96/VAE-GAN-learnable-loss also tried 1, 20 and 50)
  pbp_weight: float = 1.0  # w_pbp (0.5, 0.8, 1, 1.2 in the original)
  pbp_decay: float = 1.0  # x this every pbp_decay_epochs combo epochs (0.95 or 0.9 in the original; 1: none)
  pbp_decay_epochs: int = 25
  solo_epochs: int = 0  # VAE-only epochs before the discriminator joins

  def __post_init__(self):
    super().__post_init__()
    hparams.check_positive(self, "disc_weight", "pbp_weight", allow_zero=True)
    hparams.check_range(self, "pbp_decay", 0.0, 1.0, low_open=True, high_open=False)
    hparams.check_positive(self, "pbp_decay_epochs")
    hparams.check_positive(self, "solo_epochs", allow_zero=True)

  def pbp_weight_at(self, epoch: jax.Array) -> jax.Array:
    """w_pbp after `epoch` (float) epochs of training."""
    combo_epochs = jnp.maximum(epoch - self.solo_epochs, 0.0)
    return self.pbp_weight * self.pbp_decay ** jnp.floor(combo_epochs / self.pbp_decay_epochs)


class Discriminator(nn.Module):
  """images [B, H, W, C] -> the logit [B] that they are real."""

  config: NetworkConfig

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    features = ARCHITECTURES[self.config.name].encoder(self.config, name="trunk")(x, train=True)
    return dense(1, self.config.kernel_init, "logit")(features)[:, 0]


class VAEGAN(VAE):
  config: VAEGANConfig

  def setup(self):
    super().setup()
    self.discriminator = Discriminator(self.config.discriminator)

  def __call__(self, x: jax.Array, *, train: bool) -> dict[str, jax.Array]:
    out = super().__call__(x, train=train)
    reconstruction = jax.nn.sigmoid(out["logits"][0])  # [B, H, W, C]
    # The VAE's adversarial term: gradients reach the reconstruction, not the discriminator.
    frozen = nn.map_variables(
      lambda module, images: module(images),
      "params",
      trans_in_fn=jax.lax.stop_gradient,
      init=self.is_initializing(),
    )
    out["adversarial_logits"] = frozen(self.discriminator, reconstruction)
    # The discriminator's own loss: gradients reach the discriminator only.
    out["real_logits"] = self.discriminator(x)
    out["fake_logits"] = self.discriminator(jax.lax.stop_gradient(reconstruction))
    return out


def _bce(logits: jax.Array, real: bool) -> jax.Array:
  """-log sigmoid(logits) if real, else -log(1 - sigmoid(logits)), per example."""
  return -jax.nn.log_sigmoid(logits if real else -logits)


def vae_gan_terms(outputs: dict[str, jax.Array], batch: dict[str, jax.Array], config: VAEGANConfig) -> Terms:
  terms, _ = vae_terms(outputs, batch, config)
  epoch = batch.get("epoch", jnp.inf)
  combo = (epoch >= config.solo_epochs).astype(jnp.float32)
  pbp_weight = config.pbp_weight_at(epoch)
  adversarial = _bce(outputs["adversarial_logits"], real=True)
  real, fake = _bce(outputs["real_logits"], real=True), _bce(outputs["fake_logits"], real=False)
  vae_loss = terms["kl_nats"] + pbp_weight * terms["recon_nats"] + combo * config.disc_weight * adversarial
  disc_loss = real + fake
  real_prob, fake_prob = jax.nn.sigmoid(outputs["real_logits"]), jax.nn.sigmoid(outputs["fake_logits"])
  terms.update(
    adversarial_bce=adversarial,  # the generator's: -log D(reconstruction)
    disc_loss=disc_loss,
    disc_real_prob=real_prob,
    disc_fake_prob=fake_prob,
    disc_accuracy=0.5 * ((real_prob > 0.5).astype(jnp.float32) + (fake_prob <= 0.5).astype(jnp.float32)),
    vae_loss=vae_loss,
    pbp_weight=jnp.broadcast_to(pbp_weight, adversarial.shape),
  )
  return terms, vae_loss + combo * disc_loss


FAMILIES.register(
  "vae_gan",
  Family(
    VAEGANConfig,
    VAEGAN,
    vae_gan_terms,
    generators=(Generator("decoder", ("generator",), "recon_nats"),),
    discriminator_params="discriminator",
  ),
)
