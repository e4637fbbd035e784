"""The denoising VAE of dojoteef/dvae (the `dvae` family): the VAE's output (its likelihood's mean:
the sigmoid output) is the corrupted input of a DAE trained jointly to reconstruct the clean x; the
DAE's loss flows back into the VAE (docs/reference.md). Not Im et al.'s denoising VAE, which
corrupts the input of the encoder (the `input_corruption_vae` family, input_corruption_vae.py).
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from dvae_jax import losses
from dvae_jax.models.family import FAMILIES, Family, Generator, Terms
from dvae_jax.models.vae import VAE, InferenceNet, VAEConfig, vae_terms


@dataclasses.dataclass(frozen=True, kw_only=True)
class DVAEConfig(VAEConfig):
  family: str = "dvae"
  share_encoder: bool = True  # the DAE's encoder is the VAE's (the reference's wiring)


class DVAE(nn.Module):
  config: DVAEConfig

  def setup(self):
    cfg = self.config
    self.vae = VAE(cfg)
    if not cfg.share_encoder:
      self.dae_inference = InferenceNet(cfg)
    self.dae_generator = cfg.architecture.decoder(cfg.network, cfg.image_shape)

  def _dae_encoder(self) -> InferenceNet:
    return self.vae.inference if self.config.share_encoder else self.dae_inference

  def __call__(self, x: jax.Array, *, train: bool) -> dict[str, jax.Array]:
    cfg = self.config
    out = self.vae(x, train=train)
    samples, batch = out["logits"].shape[:2]
    generated = cfg.mean(out["logits"]).reshape(samples * batch, *cfg.image_shape)
    # With a shared encoder its batch-norm statistics update twice a step, on real and on
    # generated images, as in the reference's TF code.
    dae_posterior = self._dae_encoder()(generated, train=train)
    # The DAE decodes the deterministic encoder features of the generated image.
    dae_logits = self.dae_generator(dae_posterior["features"], train=train)
    out["dae_logits"] = dae_logits.reshape(samples, batch, *cfg.image_shape)
    if cfg.label_head:
      out["generated_label_logits"] = dae_posterior["label_logits"].reshape(samples, batch, -1)
    return out

  def reconstruct(self, x: jax.Array) -> jax.Array:
    return self.config.mean(self(x, train=False)["dae_logits"][0])

  def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    return self.vae.encode(x)

  def output_logits(self, z: jax.Array) -> jax.Array:
    """The DVAE's output: the DAE applied to the VAE decoder's output, its mean (eval mode)."""
    lead = z.shape[:-1]
    generated = self.config.mean(self.vae.decode(z.reshape(-1, z.shape[-1])))
    logits = self.dae_generator(self._dae_encoder()(generated, train=False)["features"], train=False)
    return logits.reshape(*lead, *self.config.image_shape)

  def log_prior(self, z: jax.Array) -> jax.Array:
    return self.vae.log_prior(z)

  def sample_prior(self, key: jax.Array, num: int) -> jax.Array:
    return self.vae.sample_prior(key, num)

  def sample_prior_components(self, key: jax.Array, num: int) -> jax.Array:
    return self.vae.sample_prior_components(key, num)

  def cluster(self, x: jax.Array) -> jax.Array:
    return self.vae.cluster(x)


def dvae_terms(outputs: dict[str, jax.Array], batch: dict[str, jax.Array], config: DVAEConfig) -> Terms:
  terms, objective = vae_terms(outputs, batch, config)
  x = batch["image"]
  dae_recon = -jnp.mean(config.log_likelihood(outputs["dae_logits"], x[None], batch_dims=2), axis=0)
  terms["dae_recon_nats"] = dae_recon
  terms["output_recon_nats"] = dae_recon
  # The DAE of the decoder's output is a deterministic function of z: the model's output p(x|z).
  terms["output_neg_elbo_nats"] = dae_recon + terms["elbo_kl_nats"]
  objective = objective + dae_recon
  if config.label_head:
    logits = outputs["generated_label_logits"]
    labels = jnp.broadcast_to(batch["label"], logits.shape[:2])
    generated_ce = jnp.mean(losses.softmax_cross_entropy(logits, labels), axis=0)
    terms["generated_label_ce_nats"] = generated_ce
    objective = objective + config.label_loss_weight * generated_ce
  return terms, objective


def dvae_l2_multiplicity(path: tuple[str, ...], config: DVAEConfig) -> int:
  """The reference DVAE's: the "dvae" scope's loss (KL + every variable's L2), the VAE generator's,
  the DAE generator's, and the shared recognition net's twice (label CE on x and on the VAE's
  output): 3 R_enc + 2 R_gen + 2 R_daegen + R_mean + R_logvar. An unshared DAE encoder counts
  twice (its own label loss and the "dvae" scope), and so does then the VAE's encoder."""
  encoder = 3 if config.share_encoder else 2
  if path[:2] == ("vae", "generator") or path[:1] == ("dae_generator",):
    return 2
  if path[:3] in {("vae", "inference", "trunk"), ("vae", "inference", "label_head")}:
    return encoder
  if path[:2] in {("dae_inference", "trunk"), ("dae_inference", "label_head")}:
    return 2
  return 1


FAMILIES.register(
  "dvae",
  Family(
    DVAEConfig,
    DVAE,
    dvae_terms,
    # Which of the two the reference's table shows cannot be told from its code: both are reported.
    generators=(
      Generator("dae_decoder", ("dae_generator",), "dae_recon_nats"),
      Generator("vae_decoder", ("vae", "generator"), "recon_nats"),
    ),
    l2_multiplicity=dvae_l2_multiplicity,
  ),
)
