"""The discriminators that supply the VAE's learned loss (after xuganyu96/VAE-GAN-learnable-loss).

Encoder-only networks: images [B, H, W, C] -> features [B, F]; the family puts the
real-vs-reconstructed logit on top. None uses batch norm, so a discriminator is a pure function
of its parameters and input (it is applied with frozen parameters in the VAE's loss):
  `dense_discriminator`     flatten, one hidden dense layer (200 for MNIST, 1024 for faces)
  `conv_discriminator`      `stages` x conv 4x4 stride 2 with LeakyReLU(0.2), widths base x 2^i
  `resnet_discriminator`    a conv stem, then `stages` residual blocks (two 3x3 convs; the
                            shortcut a 1x1 conv when the width changes) each followed by a 2x2
                            average pool, LeakyReLU(0.2)
  `deep_conv_discriminator` the conv discriminator with a 3x3 stride-1 conv after each stage
The original's conv discriminator (3 stages with batch norm) and ResNet-18 are heavier;
docs/reference.md compares them.
"""

import dataclasses
from typing import Any, ClassVar

import flax.linen as nn
import jax

from dvae_jax.models import hparams
from dvae_jax.models.layers import ACTIVATIONS, KERNEL_INITS, dense
from dvae_jax.models.networks.base import ARCHITECTURES, Architecture, NetworkConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class DenseDiscriminatorConfig(NetworkConfig):
  name: str = "dense_discriminator"
  hidden_sizes: tuple[int, ...] = (200,)  # 200 for MNIST, 1024 for faces in the original
  activation: str = "relu"
  SMOKE: ClassVar[dict[str, Any]] = {"hidden_sizes": (16,)}

  def __post_init__(self):
    super().__post_init__()
    hparams.check_sizes(self, "hidden_sizes")


class DenseDiscriminator(nn.Module):
  config: DenseDiscriminatorConfig

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    del train
    cfg = self.config
    x = x.reshape(x.shape[0], -1)
    for i, size in enumerate(cfg.hidden_sizes):
      x = ACTIVATIONS[cfg.activation](dense(size, cfg.kernel_init, f"dense_{i}")(x))
    return x


ARCHITECTURES.register("dense_discriminator", Architecture(DenseDiscriminatorConfig, DenseDiscriminator))


@dataclasses.dataclass(frozen=True, kw_only=True)
class StridedDiscriminatorConfig(NetworkConfig):
  """Fields the convolutional discriminators share."""

  name: str
  base_channels: int = 32
  stages: int = 4  # each halves the grid; widths base x 2^i
  activation: str = "leaky_relu_0.2"
  SMOKE: ClassVar[dict[str, Any]] = {"base_channels": 4, "stages": 2}

  def __post_init__(self):
    super().__post_init__()
    hparams.check_positive(self, "base_channels", "stages")

  def conv(self, features: int, kernel: int, stride: int, name: str) -> nn.Conv:
    init = KERNEL_INITS[self.kernel_init]
    return nn.Conv(features, (kernel, kernel), (stride, stride), padding="SAME", kernel_init=init, name=name)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConvDiscriminatorConfig(StridedDiscriminatorConfig):
  name: str = "conv_discriminator"
  extra_convs: int = 0  # 3x3 stride-1 convs after each stage (the deep discriminator: 1)

  def __post_init__(self):
    super().__post_init__()
    hparams.check_positive(self, "extra_convs", allow_zero=True)


class ConvDiscriminator(nn.Module):
  config: ConvDiscriminatorConfig

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    del train
    cfg = self.config
    act = ACTIVATIONS[cfg.activation]
    for i in range(cfg.stages):
      width = cfg.base_channels * 2**i
      x = act(cfg.conv(width, 4, 2, f"conv_{i}")(x))
      for j in range(cfg.extra_convs):
        x = act(cfg.conv(width, 3, 1, f"conv_{i}_{j}")(x))
    return x.reshape(x.shape[0], -1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeepConvDiscriminatorConfig(ConvDiscriminatorConfig):
  name: str = "deep_conv_discriminator"
  extra_convs: int = 1


ARCHITECTURES.register("conv_discriminator", Architecture(ConvDiscriminatorConfig, ConvDiscriminator))
ARCHITECTURES.register("deep_conv_discriminator", Architecture(DeepConvDiscriminatorConfig, ConvDiscriminator))


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResNetDiscriminatorConfig(StridedDiscriminatorConfig):
  name: str = "resnet_discriminator"


class ResNetDiscriminator(nn.Module):
  config: ResNetDiscriminatorConfig

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    del train
    cfg = self.config
    act = ACTIVATIONS[cfg.activation]
    x = cfg.conv(cfg.base_channels, 3, 1, "stem")(x)
    for i in range(cfg.stages):
      width = cfg.base_channels * 2**i
      shortcut = x if x.shape[-1] == width else cfg.conv(width, 1, 1, f"shortcut_{i}")(x)
      h = cfg.conv(width, 3, 1, f"block_{i}_conv_0")(act(x))
      h = cfg.conv(width, 3, 1, f"block_{i}_conv_1")(act(h))
      x = nn.avg_pool(shortcut + h, (2, 2), (2, 2), "SAME")
    return act(x).reshape(x.shape[0], -1)


ARCHITECTURES.register("resnet_discriminator", Architecture(ResNetDiscriminatorConfig, ResNetDiscriminator))
