"""The VAE with a learnable loss (xuganyu96/VAE-GAN-learnable-loss): a discriminator trained to tell
real images from the VAE's reconstructions supplies a loss that supplements the pixel-by-pixel one.

  VAE loss            KL + w_pbp * PBP + w_disc * BCE(D(reconstruction), real)
  discriminator loss  BCE(D(x), real) + BCE(D(reconstruction), reconstructed)

Both players are one Flax module and one parameter tree ({"inference", "generator", "discriminator"}).
The per-image objective is the sum of the two losses, and each player's loss sees the other's
parameters through `stop_gradient` (the VAE's adversarial term applies the discriminator with frozen
parameters; the discriminator sees the reconstruction with its gradient stopped): the gradient of
the sum with respect to a player's parameters is exactly that player's loss's gradient. Each player
has its own Adam (`optim.discriminator_learning_rate`; optimizers.make_optimizer), and `update_order`
says in which order they step (dvae_jax/two_player.py): "alternating", the original's (the
discriminator first, then the VAE against the updated discriminator, each on a fresh
reconstruction), or "simultaneous" (both from one gradient).

Schedules, in epochs of training (the step's `epoch` in the batch): `solo_epochs` of the VAE alone
(no adversarial term, w_pbp = 1 as in the original; the training loop takes two_player.solo_step
there, which runs neither the discriminator nor its optimizer, so the discriminator, its Adam state
and its batch-norm statistics stay as they are) before the "combo" epochs, and w_pbp multiplied by
`pbp_decay` every `pbp_decay_epochs` combo epochs. `max_disc_loss` drops the adversarial term for an
epoch after an epoch whose mean discriminator loss exceeded it (two_player.py).
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

UPDATE_ORDERS = ("alternating", "simultaneous")  # how the players step (dvae_jax/two_player.py)


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
  update_order: str = "alternating"  # or "simultaneous" (dvae_jax/two_player.py)
  disc_weight: float = 1.0  # w_disc: 1 in the original's MNIST script, 10 in its face runs (also 20 and 50 tried)
  pbp_weight: float = 1.0  # w_pbp (0.5, 0.8, 1, 1.2 in the original)
  pbp_decay: float = 1.0  # x this every pbp_decay_epochs combo epochs (0.95 or 0.9 in the original; 1: none)
  pbp_decay_epochs: int = 25
  solo_epochs: int = 0  # VAE-only epochs before the discriminator joins
  max_disc_loss: float | None = None  # drop the adversarial term for an epoch after one whose mean D loss exceeded it

  def __post_init__(self):
    super().__post_init__()
    hparams.check_positive(self, "disc_weight", "pbp_weight", allow_zero=True)
    hparams.check_range(self, "pbp_decay", 0.0, 1.0, low_open=True, high_open=False)
    hparams.check_positive(self, "pbp_decay_epochs")
    hparams.check_positive(self, "solo_epochs", allow_zero=True)
    hparams.check_choice(self, "update_order", UPDATE_ORDERS)
    if self.max_disc_loss is not None:
      hparams.check_positive(self, "max_disc_loss")

  def pbp_weight_at(self, epoch: jax.Array) -> jax.Array:
    """w_pbp after `epoch` (float) epochs of training: 1 in solo epochs (as the original forces it)."""
    combo_epochs = jnp.maximum(epoch - self.solo_epochs, 0.0)
    combo = self.pbp_weight * self.pbp_decay ** jnp.floor(combo_epochs / self.pbp_decay_epochs)
    return jnp.where(epoch < self.solo_epochs, 1.0, combo)


class Discriminator(nn.Module):
  """images [B, H, W, C] -> the logit [B] that they are real (batch norm, if any, on batch
  statistics when `train`, as the original's discriminators in training mode)."""

  config: NetworkConfig

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    features = ARCHITECTURES[self.config.name].encoder(self.config, name="trunk")(x, train=train)
    return dense(1, self.config.kernel_init, "logit")(features)[:, 0]


class VAEGAN(VAE):
  config: VAEGANConfig

  def setup(self):
    super().setup()
    self.discriminator = Discriminator(self.config.discriminator)

  def __call__(self, x: jax.Array, *, train: bool, discriminator: bool = True) -> dict[str, jax.Array]:
    """The VAE's outputs and, with `discriminator`, the discriminator's three logits. Without it (the
    VAE-only step of a solo epoch, two_player.solo_step), the discriminator does not run at all: its
    batch-norm statistics stay as they are, as in the original, which trains the VAE alone."""
    out = super().__call__(x, train=train)
    if not discriminator:
      return out
    # What the discriminator sees: the likelihood's mean as an image in [0, 1] (a sigmoid, or a clipped linear output).
    reconstruction = self.config.image(self.config.mean(out["logits"][0]))  # [B, H, W, C]
    # The VAE's adversarial term: gradients reach the reconstruction, not the discriminator.
    frozen = nn.map_variables(
      lambda module, images: module(images, train=train),
      "params",
      trans_in_fn=jax.lax.stop_gradient,
      init=self.is_initializing(),
    )
    out["adversarial_logits"] = frozen(self.discriminator, reconstruction)
    # The discriminator's own loss: gradients reach the discriminator only.
    out["real_logits"] = self.discriminator(x, train=train)
    out["fake_logits"] = self.discriminator(jax.lax.stop_gradient(reconstruction), train=train)
    return out


def _bce(logits: jax.Array, real: bool) -> jax.Array:
  """-log sigmoid(logits) if real, else -log(1 - sigmoid(logits)), per example."""
  return -jax.nn.log_sigmoid(logits if real else -logits)


def vae_gan_terms(outputs: dict[str, jax.Array], batch: dict[str, jax.Array], config: VAEGANConfig) -> Terms:
  terms, _ = vae_terms(outputs, batch, config)
  epoch = batch.get("epoch", jnp.inf)
  pbp_weight = config.pbp_weight_at(epoch)
  if "real_logits" not in outputs:  # the VAE alone (a solo epoch's step): KL + w_pbp PBP, w_pbp = 1 there
    vae_loss = terms["kl_nats"] + pbp_weight * terms["recon_nats"]
    terms.update(vae_loss=vae_loss, pbp_weight=jnp.broadcast_to(pbp_weight, vae_loss.shape))
    return terms, vae_loss
  combo = (epoch >= config.solo_epochs).astype(jnp.float32)
  gate = batch.get("adversarial", 1.0)  # 0: dropped by max_disc_loss for this epoch
  adversarial = _bce(outputs["adversarial_logits"], real=True)
  real, fake = _bce(outputs["real_logits"], real=True), _bce(outputs["fake_logits"], real=False)
  vae_loss = terms["kl_nats"] + pbp_weight * terms["recon_nats"] + combo * gate * config.disc_weight * adversarial
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
