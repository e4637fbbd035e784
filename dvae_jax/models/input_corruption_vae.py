"""The input-corruption denoising VAE of Im et al. (AAAI 2017, arXiv 1511.06406): the `input_corruption_vae`
family (`denoising_vae` in dvae-jax 0.1 and 0.2: that name is still accepted, with a warning). Not dojoteef/dvae's
DVAE (the `dvae` family, dvae.py), which corrupts the VAE's output and trains a DAE on it.

The input is corrupted, x~ ~ p(x~|x) (`corruption`); the encoder sees x~, and the decoder must
reconstruct the CLEAN x. The objective is the denoising variational bound, averaged over M =
`corruption_samples` corruptions and, for each, K = `samples` posterior draws:

  -L(x) = 1/M sum_m [ 1/K sum_k -log p(x | z_mk) + KL(q(z|x~_m) || p(z)) ],  z_mk ~ q(z|x~_m).

For every x~, q(z|x~) is a distribution over z, so each bracket is a -ELBO of x under the same
generative model p(z) p(x|z) as the VAE's: the bound is an upper bound on -log p(x), with a
posterior that never saw x itself. The VAE's pieces are reused as they are (the inference net, the
network's decoder, the priors, the likelihood), so a denoising VAE and a VAE of the same config
have the same parameters and the same generative model; `encode(x)` is q(z|x) of the clean x, and
`dvae evaluate`'s importance-weighted estimate, which samples from it, bounds that same model.
"""

import dataclasses

import jax
import jax.numpy as jnp

from dvae_jax.models import hparams
from dvae_jax.models.corruption import GaussianCorruption, corruption_field
from dvae_jax.models.family import FAMILIES, Family, Generator, Terms
from dvae_jax.models.vae import VAE, UnsupervisedVAEConfig, kl_terms, reparameterize


@dataclasses.dataclass(frozen=True, kw_only=True)
class InputCorruptionVAEConfig(UnsupervisedVAEConfig):
  """The VAE's fields, plus the corruption and the number of corruptions per image.

  Defaults: the VAE's, with the corruption of the authors' re-implementation (Gaussian, std
  0.025, not clipped: the noise only perturbs the encoder's input).
  """

  family: str = "input_corruption_vae"
  corruption: object = dataclasses.field(
    default_factory=lambda: GaussianCorruption(std=0.025, clip=False), metadata=corruption_field().metadata
  )
  corruption_samples: int = 1  # M
  l2_scheme: str = "single"  # plain weight decay (the authors' re-implementation)

  def __post_init__(self):
    super().__post_init__()
    hparams.check_positive(self, "corruption_samples")


class InputCorruptionVAE(VAE):
  """A VAE whose encoder sees corrupted inputs in the objective; `encode` sees the clean x."""

  config: InputCorruptionVAEConfig

  def corrupt(self, x: jax.Array) -> jax.Array:
    """x [...] corrupted elementwise with the "noise" stream."""
    return self.config.corruption(self.make_rng("noise"), x)

  def __call__(self, x: jax.Array, *, train: bool) -> dict[str, jax.Array]:
    cfg = self.config
    corruptions, batch = cfg.corruption_samples, x.shape[0]
    noisy = self.corrupt(jnp.broadcast_to(x, (corruptions, *x.shape)))  # [M, B, H, W, C], independent draws
    # The M corruptions go through the encoder as one batch of M * B images.
    posterior = self.inference(noisy.reshape(corruptions * batch, *x.shape[1:]), train=train)
    z = reparameterize(
      self.make_rng("reparam"), posterior["mean"], posterior["logvar"], samples=cfg.samples, mode="elbo"
    )  # [K, M * B, z]
    logits = self.decode(z, train=train)  # [K, M * B, H, W, C]
    out = {
      "noisy": noisy,
      "mean": posterior["mean"].reshape(corruptions, batch, -1),  # [M, B, z]
      "logvar": posterior["logvar"].reshape(corruptions, batch, -1),  # [M, B, z]
      "z": z.reshape(cfg.samples, corruptions, batch, -1),  # [K, M, B, z]
      "logits": logits.reshape(cfg.samples, corruptions, *x.shape),  # [K, M, B, H, W, C]
    }
    if self.prior is not None:  # a prior with parameters: the KL needs log p(z) of the draws
      out["log_prior"] = self.prior.log_prob(out["z"])  # [K, M, B]
    return out

  def reconstruct(self, x: jax.Array) -> jax.Array:
    """The likelihood's mean [B, H, W, C] decoded from one draw of q(z|x~), x~ one corruption of x (eval mode)."""
    return self.config.mean(self(x, train=False)["logits"][0, 0])


def input_corruption_vae_terms(
  outputs: dict[str, jax.Array], batch: dict[str, jax.Array], config: InputCorruptionVAEConfig
) -> Terms:
  x = batch["image"]
  # The target is the clean image, never outputs["noisy"]; mean over the K draws and M corruptions.
  log_likelihood = config.log_likelihood(outputs["logits"], x[None, None], batch_dims=3)  # [K, M, B]
  recon = -jnp.mean(log_likelihood, axis=(0, 1))
  samples, corruptions, size, latent = outputs["z"].shape
  # The VAE's KL with the M corruptions folded into the batch: analytic for N(0, I), else Monte
  # Carlo with the decoded draws.
  folded = {
    "mean": outputs["mean"].reshape(corruptions * size, latent),
    "logvar": outputs["logvar"].reshape(corruptions * size, latent),
    "z": outputs["z"].reshape(samples, corruptions * size, latent),
  }
  if "log_prior" in outputs:
    folded["log_prior"] = outputs["log_prior"].reshape(samples, corruptions * size)
  kl = jnp.mean(kl_terms(folded, config)[0].reshape(corruptions, size), axis=0)
  neg_bound = recon + kl  # the denoising variational bound, a -ELBO of the clean x
  terms = {
    "recon_nats": recon,
    "kl_nats": kl,
    "neg_elbo_nats": neg_bound,
    "output_recon_nats": recon,
    "output_neg_elbo_nats": neg_bound,
  }
  return terms, neg_bound


FAMILIES.register(
  "input_corruption_vae",
  Family(
    InputCorruptionVAEConfig,
    InputCorruptionVAE,
    input_corruption_vae_terms,
    generators=(Generator("decoder", ("generator",), "output_recon_nats"),),
  ),
)
FAMILIES.rename("denoising_vae", "input_corruption_vae")  # its name in 0.1 and 0.2, which their runs recorded
