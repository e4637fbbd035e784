"""Model families: a module, the per-example loss terms it is trained on, and how it reconstructs.

VAE: diagonal Gaussian posterior, N(0, I) prior, Bernoulli or Gaussian likelihood.
DAE: corrupt the input (Gaussian or dropout noise), reconstruct the clean image.
DVAE (dojoteef/dvae): the VAE's sigmoid output is the corrupted input of a DAE trained jointly to
reconstruct the clean x; the DAE's loss flows back into the VAE.
Classifier: the reference's separate CNN that scores reconstructions.
"""

import dataclasses
import math
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from dvae_jax import losses
from dvae_jax.models.networks import Decoder, Encoder, InferenceNet, kernel_init, reparameterize
from dvae_jax.models.spec import ModelSpec

Terms = tuple[dict[str, jax.Array], jax.Array]  # (per-example metrics [B], per-example objective [B])


def log_likelihood(logits: jax.Array, targets: jax.Array, spec: ModelSpec, *, batch_dims: int = 1) -> jax.Array:
  """log p(x | decoder output), summed over pixels and channels."""
  if spec.likelihood == "bernoulli":
    return losses.bernoulli_log_likelihood(logits, targets, batch_dims=batch_dims)
  return losses.gaussian_log_likelihood(jax.nn.sigmoid(logits), targets, spec.gaussian_log_std, batch_dims=batch_dims)


def corrupt(key: jax.Array, x: jax.Array, spec: ModelSpec) -> jax.Array:
  """Input corruption: additive Gaussian noise clipped to [0, 1], or masking ("dropout") noise."""
  if spec.noise_type == "gaussian":
    return jnp.clip(x + spec.noise_std * jax.random.normal(key, x.shape, x.dtype), 0.0, 1.0)
  # Masking noise zeroes pixels without rescaling the survivors (Vincent et al. 2008).
  keep = jax.random.bernoulli(key, 1.0 - spec.noise_drop_rate, x.shape)
  return jnp.where(keep, x, jnp.zeros_like(x))


def decoded_logvar(logvar: jax.Array, spec: ModelSpec) -> jax.Array:
  """Log-variance of the posterior the decoder actually sees.

  The reference's "average_z" mode decodes the mean of k draws, z ~ N(mean, sigma^2 / k), while its
  KLD is charged for sigma^2; an ELBO (and an importance-weighted bound) must use sigma^2 / k.
  """
  if spec.sample_mode == "average_z" and spec.samples > 1:
    return logvar - math.log(spec.samples)
  return logvar


def _label_terms(logits: jax.Array, labels: jax.Array) -> dict[str, jax.Array]:
  return {
    "label_ce_nats": losses.softmax_cross_entropy(logits, labels),
    "label_error": (jnp.argmax(logits, axis=-1) != labels).astype(jnp.float32),
  }


class VAE(nn.Module):
  spec: ModelSpec

  def setup(self):
    self.inference = InferenceNet(self.spec)
    self.generator = Decoder(self.spec)

  def decode(self, z: jax.Array, *, train: bool = False) -> jax.Array:
    """codes [..., z] -> logits [..., H, W, C]."""
    lead = z.shape[:-1]
    logits = self.generator(z.reshape(-1, z.shape[-1]), train=train)
    return logits.reshape(*lead, *self.spec.image_shape)

  def __call__(self, x: jax.Array, *, train: bool) -> dict[str, jax.Array]:
    posterior = self.inference(x, train=train)
    z = reparameterize(
      self.make_rng("reparam"),
      posterior["mean"],
      posterior["logvar"],
      samples=self.spec.samples,
      mode=self.spec.sample_mode,
    )  # [S, B, z]
    return {**posterior, "z": z, "logits": self.decode(z, train=train)}  # logits [S, B, H, W, C]

  def reconstruct(self, x: jax.Array) -> jax.Array:
    """One stochastic reconstruction per image, as probabilities [B, H, W, C] (eval mode)."""
    return jax.nn.sigmoid(self(x, train=False)["logits"][0])

  def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Posterior mean and log-variance [B, z] (eval mode)."""
    posterior = self.inference(x, train=False)
    return posterior["mean"], posterior["logvar"]

  def output_logits(self, z: jax.Array) -> jax.Array:
    """Codes [..., z] -> logits of the model's output [..., H, W, C] (eval mode)."""
    return self.decode(z)


def vae_terms(outputs: dict[str, jax.Array], batch: dict[str, jax.Array], spec: ModelSpec) -> Terms:
  x = batch["image"]
  # Average over the S posterior draws: the k-sample ELBO (S = 1 for "average_z").
  recon = -jnp.mean(log_likelihood(outputs["logits"], x[None], spec, batch_dims=2), axis=0)
  kl = losses.kl_divergence(outputs["mean"], outputs["logvar"])
  elbo_kl = losses.kl_divergence(outputs["mean"], decoded_logvar(outputs["logvar"], spec))
  terms = {
    "recon_nats": recon,
    "kl_nats": kl,  # what is trained on and what the reference reports as its KLD
    "elbo_kl_nats": elbo_kl,  # the KL of the posterior actually decoded
    "neg_elbo_nats": recon + elbo_kl,
    "output_recon_nats": recon,
    "output_neg_elbo_nats": recon + elbo_kl,
  }
  objective = recon + kl
  if spec.label_head:
    label = _label_terms(outputs["label_logits"], batch["label"])
    terms.update(label)
    objective = objective + spec.label_loss_weight * label["label_ce_nats"]
  return terms, objective


class DAE(nn.Module):
  spec: ModelSpec

  def setup(self):
    self.encoder = Encoder(self.spec)
    self.generator = Decoder(self.spec)

  def __call__(self, x: jax.Array, *, train: bool) -> dict[str, jax.Array]:
    noisy = corrupt(self.make_rng("noise"), x, self.spec)
    logits = self.generator(self.encoder(noisy, train=train), train=train)
    return {"logits": logits[None]}  # [1, B, H, W, C]

  def reconstruct(self, x: jax.Array) -> jax.Array:
    return jax.nn.sigmoid(self(x, train=False)["logits"][0])


def dae_terms(outputs: dict[str, jax.Array], batch: dict[str, jax.Array], spec: ModelSpec) -> Terms:
  recon = -log_likelihood(outputs["logits"][0], batch["image"], spec)
  return {"recon_nats": recon, "output_recon_nats": recon}, recon


class DVAE(nn.Module):
  spec: ModelSpec

  def setup(self):
    self.vae = VAE(self.spec)
    if not self.spec.share_encoder:
      self.dae_inference = InferenceNet(self.spec)
    self.dae_generator = Decoder(self.spec)

  def __call__(self, x: jax.Array, *, train: bool) -> dict[str, jax.Array]:
    out = self.vae(x, train=train)
    samples, batch = out["logits"].shape[:2]
    generated = jax.nn.sigmoid(out["logits"]).reshape(samples * batch, *self.spec.image_shape)
    dae_encoder = self.vae.inference if self.spec.share_encoder else self.dae_inference
    # With a shared encoder its batch-norm statistics update twice a step, on real and on
    # generated images, as in the reference's TF code.
    dae_posterior = dae_encoder(generated, train=train)
    # The DAE decodes the deterministic encoder features of the generated image.
    dae_logits = self.dae_generator(dae_posterior["features"], train=train)
    out["dae_logits"] = dae_logits.reshape(samples, batch, *self.spec.image_shape)
    if self.spec.label_head:
      out["generated_label_logits"] = dae_posterior["label_logits"].reshape(samples, batch, -1)
    return out

  def reconstruct(self, x: jax.Array) -> jax.Array:
    return jax.nn.sigmoid(self(x, train=False)["dae_logits"][0])

  def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    return self.vae.encode(x)

  def output_logits(self, z: jax.Array) -> jax.Array:
    """The DVAE's output: the DAE applied to the VAE decoder's sigmoid output (eval mode)."""
    lead = z.shape[:-1]
    generated = jax.nn.sigmoid(self.vae.decode(z.reshape(-1, z.shape[-1])))
    dae_encoder = self.vae.inference if self.spec.share_encoder else self.dae_inference
    logits = self.dae_generator(dae_encoder(generated, train=False)["features"], train=False)
    return logits.reshape(*lead, *self.spec.image_shape)


def dvae_terms(outputs: dict[str, jax.Array], batch: dict[str, jax.Array], spec: ModelSpec) -> Terms:
  terms, objective = vae_terms(outputs, batch, spec)
  x = batch["image"]
  dae_recon = -jnp.mean(log_likelihood(outputs["dae_logits"], x[None], spec, batch_dims=2), axis=0)
  terms["dae_recon_nats"] = dae_recon
  terms["output_recon_nats"] = dae_recon
  # The DAE of the decoder's output is a deterministic function of z: the model's output p(x|z).
  terms["output_neg_elbo_nats"] = dae_recon + terms["elbo_kl_nats"]
  objective = objective + dae_recon
  if spec.label_head:
    logits = outputs["generated_label_logits"]
    labels = jnp.broadcast_to(batch["label"], logits.shape[:2])
    generated_ce = jnp.mean(losses.softmax_cross_entropy(logits, labels), axis=0)
    terms["generated_label_ce_nats"] = generated_ce
    objective = objective + spec.label_loss_weight * generated_ce
  return terms, objective


class Classifier(nn.Module):
  """The reference's separate evaluation classifier: the conv trunk and a linear label layer."""

  spec: ModelSpec

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> dict[str, jax.Array]:
    features = Encoder(self.spec, name="trunk")(x, train=train)
    return {
      "label_logits": nn.Dense(self.spec.num_classes, kernel_init=kernel_init(self.spec), name="label_head")(features)
    }

  def classify(self, x: jax.Array) -> jax.Array:
    """Class logits [B, classes] (eval mode)."""
    return self(x, train=False)["label_logits"]


def classifier_terms(outputs: dict[str, jax.Array], batch: dict[str, jax.Array], spec: ModelSpec) -> Terms:
  del spec
  terms = _label_terms(outputs["label_logits"], batch["label"])
  return terms, terms["label_ce_nats"]


@dataclasses.dataclass(frozen=True)
class Family:
  """How the training loop sees a model family."""

  name: str
  module: Callable[[ModelSpec], nn.Module]
  terms: Callable[[dict[str, jax.Array], dict[str, jax.Array], ModelSpec], Terms]
  # Params path of the generator whose output is the model's output; None for a classifier.
  output_generator: tuple[str, ...] | None
  latent: bool = False  # has a posterior q(z|x) and a prior: `encode` and `output_logits` methods

  @property
  def generative(self) -> bool:
    return self.output_generator is not None


FAMILIES: dict[str, Family] = {
  "vae": Family("vae", VAE, vae_terms, ("generator",), latent=True),
  "dae": Family("dae", DAE, dae_terms, ("generator",)),
  "dvae": Family("dvae", DVAE, dvae_terms, ("dae_generator",), latent=True),
  "classifier": Family("classifier", Classifier, classifier_terms, None),
}


def get_family(name: str) -> Family:
  try:
    return FAMILIES[name]
  except KeyError:
    raise ValueError(f"unknown model.family {name!r}; valid families: {sorted(FAMILIES)}") from None
