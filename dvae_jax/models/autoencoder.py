"""Autoencoders: plain, denoising (input corruption) and, by config, sparse.

The network's encoder features are the code; the network's decoder reconstructs the clean image
from it. With a corruption (`corruption.name` other than "none") the encoder sees the corrupted
image and the target stays the clean one: a denoising autoencoder.
"""

import dataclasses

import flax.linen as nn
import jax

from dvae_jax.corruption import corruption_field
from dvae_jax.models.family import FAMILIES, Family, LikelihoodConfig, ModelConfig, Terms


@dataclasses.dataclass(frozen=True, kw_only=True)
class AEConfig(ModelConfig, LikelihoodConfig):
  family: str = "ae"
  corruption: object = corruption_field("none")

  def __post_init__(self):
    ModelConfig.__post_init__(self)
    LikelihoodConfig.__post_init__(self)


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
    """Probabilities [B, H, W, C] reconstructed from a corrupted x (eval mode)."""
    return jax.nn.sigmoid(self(x, train=False)["logits"][0])


def ae_terms(outputs: dict[str, jax.Array], batch: dict[str, jax.Array], config: AEConfig) -> Terms:
  # The target is the clean image, never outputs["noisy"].
  recon = -config.log_likelihood(outputs["logits"][0], batch["image"])
  return {"recon_nats": recon, "output_recon_nats": recon}, recon


FAMILIES.register("ae", Family(AEConfig, Autoencoder, ae_terms, output_generator=("generator",)))
