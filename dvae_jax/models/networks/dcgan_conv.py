"""The convolutional VAE network of the 64 x 64 face runs (after xuganyu96/VAE-GAN-learnable-loss):
a lighter stand-in for the original's network that trains on a CPU (docs/reference.md compares
the two).

`dcgan_conv`, a VAE network (encoder and decoder):
  encoder  `stages` x [conv 4x4 stride 2 (+ `extra_convs` conv 3x3 stride 1), batch norm, act],
           widths base, 2 base, 4 base, ... (64 -> 32 -> 16 -> 8 -> 4 for 4 stages), flatten
  decoder  dense to the last grid (4 x 4 x 8 base for 4 stages), batch norm, act, then the mirror:
           `stages` x [transposed conv 4x4 stride 2 (+ `extra_convs` conv 3x3)], the last to the
           image's channels as logits
The family's heads map the flattened features to the posterior: by default plain dense layers, so the
mean and log-variance are unconstrained (the original's encoder ends Dense -> BN -> ReLU, which forces
both to be >= 0: `model.posterior_head="dense_bn_relu"`). `extra_convs=1` is the "deep" variant.
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
class DcganConvConfig(NetworkConfig):
  name: str = "dcgan_conv"
  base_channels: int = 32
  stages: int = 4  # stride-2 stages: 64 x 64 images reach a 4 x 4 grid
  extra_convs: int = 0  # 3x3 stride-1 convs after each stage's strided one (1: the deep variant)
  activation: str = "leaky_relu_0.2"
  batch_norm: bool = True
  bn_momentum: float = 0.9
  bn_trainable_affine: bool = True
  SMOKE: ClassVar[dict[str, Any]] = {"base_channels": 4, "stages": 2}

  def __post_init__(self):
    super().__post_init__()
    hparams.check_positive(self, "base_channels", "stages")
    hparams.check_positive(self, "extra_convs", allow_zero=True)
    hparams.check_range(self, "bn_momentum", 0.0, 1.0)

  def check_image_shape(self, image_shape):
    check_divisible(self, image_shape, 2**self.stages, f"{self.stages} stride-2 stages")

  def widths(self) -> list[int]:
    return [self.base_channels * 2**i for i in range(self.stages)]

  def norm_act(self, x: jax.Array, name: str, *, train: bool) -> jax.Array:
    norm = batch_norm(
      self.batch_norm, name, train=train, momentum=self.bn_momentum, trainable_affine=self.bn_trainable_affine
    )
    return ACTIVATIONS[self.activation](norm(x))

  def conv(self, features: int, kernel: int, stride: int, name: str) -> nn.Conv:
    init = KERNEL_INITS[self.kernel_init]
    return nn.Conv(features, (kernel, kernel), (stride, stride), padding="SAME", kernel_init=init, name=name)


class ConvEncoder(nn.Module):
  """images [B, H, W, C] -> features [B, (H / 2^stages) (W / 2^stages) widths[-1]]."""

  config: DcganConvConfig

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    cfg = self.config
    for i, width in enumerate(cfg.widths()):
      x = cfg.norm_act(cfg.conv(width, 4, 2, f"conv_{i}")(x), f"bn_conv_{i}", train=train)
      for j in range(cfg.extra_convs):
        x = cfg.norm_act(cfg.conv(width, 3, 1, f"conv_{i}_{j}")(x), f"bn_conv_{i}_{j}", train=train)
    return x.reshape(x.shape[0], -1)


class ConvDecoder(nn.Module):
  """codes [B, D] -> logits [B, H, W, C]."""

  config: DcganConvConfig
  image_shape: tuple[int, int, int]

  @nn.compact
  def __call__(self, z: jax.Array, *, train: bool) -> jax.Array:
    cfg = self.config
    height, width, channels = self.image_shape
    factor = 2**cfg.stages
    widths = cfg.widths()[::-1]
    x = dense((height // factor) * (width // factor) * widths[0], cfg.kernel_init, "dense")(z)
    x = cfg.norm_act(x, "bn_dense", train=train).reshape(z.shape[0], height // factor, width // factor, widths[0])
    outputs = (*widths[1:], channels)
    init = KERNEL_INITS[cfg.kernel_init]
    for i, features in enumerate(outputs):
      last = i == len(outputs) - 1
      x = ops.ConvTranspose(features, (4, 4), (2, 2), "SAME", kernel_init=init, fast=cfg.fast, name=f"deconv_{i}")(x)
      if not last:
        x = cfg.norm_act(x, f"bn_deconv_{i}", train=train)
      for j in range(cfg.extra_convs):
        x = cfg.conv(features, 3, 1, f"conv_{i}_{j}")(x)
        if not (last and j == cfg.extra_convs - 1):
          x = cfg.norm_act(x, f"bn_conv_{i}_{j}", train=train)
    return x


ARCHITECTURES.register("dcgan_conv", Architecture(DcganConvConfig, ConvEncoder, ConvDecoder))
