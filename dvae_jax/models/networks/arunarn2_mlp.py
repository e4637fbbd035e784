"""The fully connected network of the 2-D VAE of arunarn2/AutoEncoder.

Encoder: flatten, 784 -> 512 ELU -> 512 tanh. Decoder: z -> 512 tanh -> 512 ELU -> one logit per
pixel. Dropout after every hidden layer, in training only (the original's keep probability 0.9 is
`dropout_rate` 0.1; its masks come from the "dropout" stream). Weights: the original's
`variance_scaling_initializer()` (fan-in, scale 2, truncated normal) is "he_normal"; biases zero.
The posterior heads belong to the family: the original's sigma = softplus(h) is the VAE's
`posterior_scale="softplus"` (experiments/mnist_vae_2d.py).
"""

import dataclasses
import math
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from dvae_jax.models import hparams
from dvae_jax.models.layers import dense
from dvae_jax.models.networks.base import ARCHITECTURES, Architecture, NetworkConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class Arunarn2MLPConfig(NetworkConfig):
  name: str = "arunarn2_mlp"
  kernel_init: str = "he_normal"
  encoder_widths: tuple[int, int] = (512, 512)  # the ELU layer, then the tanh layer
  decoder_widths: tuple[int, int] = (512, 512)  # the tanh layer, then the ELU layer
  dropout_rate: float = 0.1  # 1 - the original's keep probability
  SMOKE: ClassVar[dict[str, Any]] = {"encoder_widths": (32, 32), "decoder_widths": (32, 32)}

  def __post_init__(self):
    super().__post_init__()
    for field in ("encoder_widths", "decoder_widths"):
      hparams.check_sizes(self, field)
      if len(getattr(self, field)) != 2:
        raise hparams.FieldError(field, "expected two widths, one per hidden layer")
    hparams.check_range(self, "dropout_rate", 0.0, 1.0)


class Encoder(nn.Module):
  """images [B, H, W, C] -> features [B, encoder_widths[1]]."""

  config: Arunarn2MLPConfig

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    cfg = self.config
    h = x.reshape(x.shape[0], -1)
    h = nn.elu(dense(cfg.encoder_widths[0], cfg.kernel_init, "dense_0")(h))
    h = nn.Dropout(cfg.dropout_rate, deterministic=not train)(h)
    h = jnp.tanh(dense(cfg.encoder_widths[1], cfg.kernel_init, "dense_1")(h))
    return nn.Dropout(cfg.dropout_rate, deterministic=not train)(h)


class Decoder(nn.Module):
  """codes [B, D] -> pixel logits [B, H, W, C]."""

  config: Arunarn2MLPConfig
  image_shape: tuple[int, int, int]

  @nn.compact
  def __call__(self, z: jax.Array, *, train: bool) -> jax.Array:
    cfg = self.config
    h = jnp.tanh(dense(cfg.decoder_widths[0], cfg.kernel_init, "dense_0")(z))
    h = nn.Dropout(cfg.dropout_rate, deterministic=not train)(h)
    h = nn.elu(dense(cfg.decoder_widths[1], cfg.kernel_init, "dense_1")(h))
    h = nn.Dropout(cfg.dropout_rate, deterministic=not train)(h)
    logits = dense(math.prod(self.image_shape), cfg.kernel_init, "dense_2")(h)
    return logits.reshape(h.shape[0], *self.image_shape)


ARCHITECTURES.register("arunarn2_mlp", Architecture(Arunarn2MLPConfig, Encoder, Decoder))
