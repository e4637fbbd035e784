"""The convolutional denoising autoencoder of arunarn2/AutoEncoder (StackedDenoisingAutoEncoder.py),
layer for layer as its code builds it; every conv is 5x5, stride 1, SAME:

  encoder  conv 64 -> conv 64 -> max-pool 2x2 -> conv 64 -> max-pool 2x2    28x28 -> 7x7x64 (3136 features)
  decoder  conv 64 -> transposed conv 64 stride 2 -> transposed conv 64 stride 2 -> conv C (logits)
                                                                           7x7 -> 14x14 -> 28x28

The encoder's convs and the decoder's first conv use LeakyReLU (TF's default slope 0.2); as in the
original code, the two transposed convs have no activation. The code is the flattened 7x7x64 grid;
a code of another size (e.g. a VAE's latent) is first mapped to the grid by a dense layer.
"""

import dataclasses
from typing import Any, ClassVar

import flax.linen as nn
import jax

from dvae_jax import ops
from dvae_jax.models import hparams
from dvae_jax.models.layers import KERNEL_INITS, dense
from dvae_jax.models.networks.base import ARCHITECTURES, Architecture, NetworkConfig, check_divisible


@dataclasses.dataclass(frozen=True, kw_only=True)
class Arunarn2ConvConfig(NetworkConfig):
  name: str = "arunarn2_conv"
  kernel_init: str = "xavier_uniform"  # tf.layers' default (glorot_uniform)
  channels: int = 64  # every conv layer's width
  kernel_size: int = 5
  leaky_relu_slope: float = 0.2  # tf.nn.leaky_relu's default
  SMOKE: ClassVar[dict[str, Any]] = {"channels": 8}

  def __post_init__(self):
    super().__post_init__()
    hparams.check_positive(self, "channels", "kernel_size")
    hparams.check_range(self, "leaky_relu_slope", 0.0, 1.0)

  def check_image_shape(self, image_shape):
    check_divisible(self, image_shape, 4, "two 2x2 max-pools")

  def conv(self, features: int, name: str) -> nn.Module:
    kernel = (self.kernel_size,) * 2
    return nn.Conv(features, kernel, padding="SAME", kernel_init=KERNEL_INITS[self.kernel_init], name=name)

  def deconv(self, features: int, name: str) -> nn.Module:
    """A stride-2 transposed conv (dvae_jax.ops' when `fast_ops` says so: same forward values)."""
    kernel, init = (self.kernel_size,) * 2, KERNEL_INITS[self.kernel_init]
    return ops.ConvTranspose(features, kernel, (2, 2), "SAME", kernel_init=init, fast=self.fast, name=name)

  def max_pool(self, x: jax.Array) -> jax.Array:
    return ops.max_pool(x, (2, 2), (2, 2), "VALID") if self.fast else nn.max_pool(x, (2, 2), (2, 2), "VALID")

  def leaky_relu(self, x: jax.Array) -> jax.Array:
    return nn.leaky_relu(x, negative_slope=self.leaky_relu_slope)


class Encoder(nn.Module):
  """images [B, H, W, C] -> features [B, H/4 * W/4 * channels]."""

  config: Arunarn2ConvConfig

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    del train
    cfg = self.config
    x = cfg.leaky_relu(cfg.conv(cfg.channels, "conv_0")(x))
    x = cfg.max_pool(cfg.leaky_relu(cfg.conv(cfg.channels, "conv_1")(x)))  # [B, H/2, W/2, channels]
    x = cfg.max_pool(cfg.leaky_relu(cfg.conv(cfg.channels, "conv_2")(x)))  # [B, H/4, W/4, channels]
    return x.reshape(x.shape[0], -1)


class Decoder(nn.Module):
  """codes [B, D] -> pixel logits [B, H, W, C]."""

  config: Arunarn2ConvConfig
  image_shape: tuple[int, int, int]

  @nn.compact
  def __call__(self, code: jax.Array, *, train: bool) -> jax.Array:
    del train
    cfg = self.config
    height, width, channels = self.image_shape
    grid = (height // 4, width // 4, cfg.channels)
    if code.shape[-1] != grid[0] * grid[1] * grid[2]:  # not the encoder's own grid: a latent code
      code = dense(grid[0] * grid[1] * grid[2], cfg.kernel_init, "dense_0")(code)
    x = code.reshape(code.shape[0], *grid)
    x = cfg.leaky_relu(cfg.conv(cfg.channels, "conv_0")(x))
    x = cfg.deconv(cfg.channels, "deconv_0")(x)  # [B, H/2, W/2, channels]
    x = cfg.deconv(cfg.channels, "deconv_1")(x)  # [B, H, W, channels]
    return cfg.conv(channels, "logits")(x)


ARCHITECTURES.register("arunarn2_conv", Architecture(Arunarn2ConvConfig, Encoder, Decoder))
