"""The convolutional autoencoder of Hands-On Machine Learning (Geron, 3rd ed., chapter 17).

  encoder  conv 3x3 16, max-pool 2x2      28 -> 14
           conv 3x3 32, max-pool 2x2      14 -> 7
           conv 3x3 64, max-pool 2x2       7 -> 3
           conv 3x3 30, global average     3x3x30 -> a 30-d code
  decoder  dense 3*3*16 (no activation), reshape to 3x3x16
           transposed conv 3x3 32, stride 2, VALID     3 -> 7
           transposed conv 3x3 16, stride 2, SAME      7 -> 14
           transposed conv 3x3 C,  stride 2, SAME     14 -> 28 (logits)

Convs are SAME with ReLU, pools VALID (Keras's defaults). The widths and the code size are fields;
the depth is the figure's, so only 28x28 images fit (the first transposed conv's VALID padding
turns the 3x3 grid into 7x7, which an image of another size would not give back).
"""

import dataclasses
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from dvae_jax import ops
from dvae_jax.errors import ConfigError
from dvae_jax.models import hparams
from dvae_jax.models.layers import KERNEL_INITS, dense
from dvae_jax.models.networks.base import ARCHITECTURES, Architecture, NetworkConfig

IMAGE_SIZE = (28, 28)
GRID = 3  # 28 -> 14 -> 7 -> 3 after three VALID 2x2 pools


@dataclasses.dataclass(frozen=True, kw_only=True)
class HandsOnConvConfig(NetworkConfig):
  name: str = "handson_conv"
  kernel_init: str = "xavier_uniform"  # Keras's default (glorot_uniform)
  conv_channels: tuple[int, int, int] = (16, 32, 64)  # each conv followed by a 2x2 max-pool
  code_size: int = 30  # the last conv's channels, averaged over its 3x3 grid
  # The dense layer's 3x3 grid, then the first two transposed convs (the last one outputs the image's channels).
  decoder_channels: tuple[int, int, int] = (16, 32, 16)
  SMOKE: ClassVar[dict[str, Any]] = {"conv_channels": (4, 8, 8), "code_size": 8, "decoder_channels": (4, 8, 4)}

  def __post_init__(self):
    super().__post_init__()
    for field in ("conv_channels", "decoder_channels"):
      hparams.check_sizes(self, field)
      if len(getattr(self, field)) != 3:
        raise hparams.FieldError(field, "expected 3 widths (the network's depth is fixed)")
    hparams.check_positive(self, "code_size")

  def check_image_shape(self, image_shape):
    if tuple(image_shape[:2]) != IMAGE_SIZE:
      raise ConfigError(
        f"images of shape {tuple(image_shape)} cannot be decoded by the {self.name!r} network: its fixed depth "
        f"maps 28x28 images to a 3x3 grid and back, so images must be 28x28; change config.model.network or the data."
      )

  def conv(self, features: int, name: str) -> nn.Module:
    return nn.Conv(features, (3, 3), padding="SAME", kernel_init=KERNEL_INITS[self.kernel_init], name=name)

  def deconv(self, features: int, name: str, *, padding: str = "SAME") -> nn.Module:
    """A 3x3 stride-2 transposed conv (dvae_jax.ops' when `fast_ops` says so: same forward values)."""
    init = KERNEL_INITS[self.kernel_init]
    return ops.ConvTranspose(features, (3, 3), (2, 2), padding, kernel_init=init, fast=self.fast, name=name)

  def max_pool(self, x: jax.Array) -> jax.Array:
    return ops.max_pool(x, (2, 2), (2, 2), "VALID") if self.fast else nn.max_pool(x, (2, 2), (2, 2), "VALID")


class Encoder(nn.Module):
  """images [B, 28, 28, C] -> codes [B, code_size]."""

  config: HandsOnConvConfig

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    del train
    cfg = self.config
    for i, channels in enumerate(cfg.conv_channels):
      x = cfg.max_pool(nn.relu(cfg.conv(channels, f"conv_{i}")(x)))
    x = nn.relu(cfg.conv(cfg.code_size, f"conv_{len(cfg.conv_channels)}")(x))  # [B, 3, 3, code_size]
    return jnp.mean(x, axis=(1, 2))


class Decoder(nn.Module):
  """codes [B, D] -> pixel logits [B, 28, 28, C]."""

  config: HandsOnConvConfig
  image_shape: tuple[int, int, int]

  @nn.compact
  def __call__(self, code: jax.Array, *, train: bool) -> jax.Array:
    del train
    cfg = self.config
    grid_channels, *deconv_channels = cfg.decoder_channels
    x = dense(GRID * GRID * grid_channels, cfg.kernel_init, "dense_0")(code)
    x = x.reshape(x.shape[0], GRID, GRID, grid_channels)
    x = nn.relu(cfg.deconv(deconv_channels[0], "deconv_0", padding="VALID")(x))  # [B, 7, 7, .]
    x = nn.relu(cfg.deconv(deconv_channels[1], "deconv_1")(x))  # [B, 14, 14, .]
    return cfg.deconv(self.image_shape[-1], "deconv_2")(x)  # [B, 28, 28, C]


ARCHITECTURES.register("handson_conv", Architecture(HandsOnConvConfig, Encoder, Decoder))
