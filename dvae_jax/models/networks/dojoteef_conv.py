"""The conv network of dojoteef/dvae ("the reference": docs/reference.md).

Encoder: per conv layer, a 5x5 stride-1 SAME conv, batch norm, ReLU and a 3x3 stride-2 SAME max-pool;
then a fully connected stack (batch norm + ReLU). Decoder: the mirror, FC stack, a last FC with batch
norm and no activation, reshape, and 5x5 stride-2 SAME transposed convs. `conv_channels=(64, 64)`,
`fc_sizes=(384, 192)` is the MNIST network; `(128, 64)`, `(512, 256)` the CIFAR-10 one.
"""

import dataclasses
from typing import Any, ClassVar

import flax.linen as nn
import jax

from dvae_jax import ops
from dvae_jax.models import hparams
from dvae_jax.models.layers import ACTIVATIONS, KERNEL_INITS, batch_norm, dense
from dvae_jax.models.networks.base import ARCHITECTURES, Architecture, NetworkConfig, check_divisible


@dataclasses.dataclass(frozen=True, kw_only=True)
class DojoteefConvConfig(NetworkConfig):
  name: str = "dojoteef_conv"
  conv_channels: tuple[int, ...] = (64, 64)
  kernel_size: int = 5
  fc_sizes: tuple[int, ...] = (384, 192)  # encoder order; the decoder mirrors it
  activation: str = "relu"
  batch_norm: bool = True
  bn_momentum: float = 0.999
  bn_trainable_affine: bool = False  # the reference fixes scale 1 and offset 0
  SMOKE: ClassVar[dict[str, Any]] = {"conv_channels": (8, 8), "fc_sizes": (32, 16), "bn_momentum": 0.9}

  def __post_init__(self):
    super().__post_init__()
    hparams.check_sizes(self, "conv_channels")
    hparams.check_sizes(self, "fc_sizes", allow_empty=True)
    hparams.check_positive(self, "kernel_size")
    hparams.check_range(self, "bn_momentum", 0.0, 1.0)

  def check_image_shape(self, image_shape):
    check_divisible(self, image_shape, 2 ** len(self.conv_channels), "one stride-2 pool per conv layer")

  def norm(self, name: str, *, train: bool):
    return batch_norm(
      self.batch_norm, name, train=train, momentum=self.bn_momentum, trainable_affine=self.bn_trainable_affine
    )


class Encoder(nn.Module):
  """images [B, H, W, C] -> features [B, fc_sizes[-1]]."""

  config: DojoteefConvConfig

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    cfg = self.config
    act = ACTIVATIONS[cfg.activation]
    for i, channels in enumerate(cfg.conv_channels):
      conv = nn.Conv(
        channels, (cfg.kernel_size,) * 2, padding="SAME", kernel_init=KERNEL_INITS[cfg.kernel_init], name=f"conv_{i}"
      )
      x = act(cfg.norm(f"bn_conv_{i}", train=train)(conv(x)))
      x = ops.max_pool(x, (3, 3), (2, 2), "SAME") if cfg.fast else nn.max_pool(x, (3, 3), (2, 2), "SAME")
    x = x.reshape(x.shape[0], -1)
    for i, features in enumerate(cfg.fc_sizes):
      x = act(cfg.norm(f"bn_dense_{i}", train=train)(dense(features, cfg.kernel_init, f"dense_{i}")(x)))
    return x


class Decoder(nn.Module):
  """codes [B, D] -> pixel logits [B, H, W, C]."""

  config: DojoteefConvConfig
  image_shape: tuple[int, int, int]

  @nn.compact
  def __call__(self, z: jax.Array, *, train: bool) -> jax.Array:
    cfg = self.config
    act = ACTIVATIONS[cfg.activation]
    height, width, channels = self.image_shape
    factor = 2 ** len(cfg.conv_channels)
    grid_h, grid_w = height // factor, width // factor
    x = z
    for i, features in enumerate(reversed(cfg.fc_sizes)):
      x = act(cfg.norm(f"bn_dense_{i}", train=train)(dense(features, cfg.kernel_init, f"dense_{i}")(x)))
    last = len(cfg.fc_sizes)
    x = dense(grid_h * grid_w * cfg.conv_channels[0], cfg.kernel_init, f"dense_{last}")(x)
    # The reference applies batch norm but no activation before the reshape.
    x = cfg.norm(f"bn_dense_{last}", train=train)(x)
    x = x.reshape(x.shape[0], grid_h, grid_w, cfg.conv_channels[0])
    out_channels = (*cfg.conv_channels[1:], channels)
    for i, features in enumerate(out_channels):
      x = ops.ConvTranspose(
        features,
        (cfg.kernel_size,) * 2,
        strides=(2, 2),
        padding="SAME",
        kernel_init=KERNEL_INITS[cfg.kernel_init],
        fast=cfg.fast,
        name=f"deconv_{i}",
      )(x)
      if i < len(out_channels) - 1:
        x = act(cfg.norm(f"bn_deconv_{i}", train=train)(x))
    return x


ARCHITECTURES.register("dojoteef_conv", Architecture(DojoteefConvConfig, Encoder, Decoder))
