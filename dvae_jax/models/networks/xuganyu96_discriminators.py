"""The discriminators of xuganyu96/VAE-GAN-learnable-loss with batch norm, as its mxnet code builds
them. discriminators.py holds lighter stand-ins without batch norm that train on a CPU.

Encoder-only networks: images [B, H, W, C] -> features [B, F]; the family puts the
real-vs-reconstructed logit (the original's Dense(1)) on top. Their batch norm follows the `train`
flag: batch statistics (and running averages updated, with `mutable=["batch_stats"]`) in training,
the running averages in evaluation.
  `conv_bn_discriminator`       models/ConvDisc_LeakyReLU.py: `stages` x [conv 4x4 stride 2 pad 1
                                without bias, batch norm (not on the first), LeakyReLU(0.2)], widths
                                base x 2^i, flatten (64 x 64 -> 8 x 8 x 4 base)
  `deep_conv_bn_discriminator`  models/DeepConvDisc.py: the same with a 4th stage and base 64
  `resnet18_discriminator`      models/ResNet.py (d2l's ResNet-18): conv 7x7 stride 2 pad 3, batch
                                norm, ReLU, max-pool 3x3 stride 2 pad 1; per stage i (width base x 2^i)
                                `stage_blocks[i]` residual blocks, the first of every stage but the
                                first with stride 2 and a 1x1 conv shortcut; global average pool
                                (features [B, 8 base])
What differs from the original: batch norm and padding as gluon_layers.py describes (Gluon's epsilon,
momentum and explicit symmetric padding, so outputs align with Gluon's).
"""

import dataclasses
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from dvae_jax.models import hparams
from dvae_jax.models.networks.base import ARCHITECTURES, Architecture
from dvae_jax.models.networks.gluon_layers import GluonNetworkConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConvBNDiscriminatorConfig(GluonNetworkConfig):
  name: str = "conv_bn_discriminator"
  base_channels: int = 32  # the original's "1024_32_64" runs: 64
  stages: int = 3  # each halves the grid; widths base x 2^i
  leaky_relu_slope: float = 0.2
  SMOKE: ClassVar[dict[str, Any]] = {"base_channels": 4}

  def __post_init__(self):
    super().__post_init__()
    hparams.check_positive(self, "base_channels", "stages")
    hparams.check_range(self, "leaky_relu_slope", 0.0, 1.0)


class ConvBNDiscriminator(nn.Module):
  """images [B, H, W, C] -> features [B, (H / 2^stages) (W / 2^stages) base 2^(stages - 1)]."""

  config: ConvBNDiscriminatorConfig

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    cfg = self.config
    for i in range(cfg.stages):
      x = cfg.conv(cfg.base_channels * 2**i, 4, 2, 1, bias=False, name=f"conv_{i}")(x)
      if i:
        x = cfg.norm(f"bn_conv_{i}", train=train)(x)
      x = nn.leaky_relu(x, cfg.leaky_relu_slope)
    return x.reshape(x.shape[0], -1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeepConvBNDiscriminatorConfig(ConvBNDiscriminatorConfig):
  name: str = "deep_conv_bn_discriminator"
  base_channels: int = 64
  stages: int = 4


ARCHITECTURES.register("conv_bn_discriminator", Architecture(ConvBNDiscriminatorConfig, ConvBNDiscriminator))
ARCHITECTURES.register("deep_conv_bn_discriminator", Architecture(DeepConvBNDiscriminatorConfig, ConvBNDiscriminator))


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResNet18DiscriminatorConfig(GluonNetworkConfig):
  name: str = "resnet18_discriminator"
  base_channels: int = 64  # the stem's and the first stage's width; stage i: base x 2^i
  stage_blocks: tuple[int, ...] = (2, 2, 2, 2)  # residual blocks per stage: ResNet-18's
  SMOKE: ClassVar[dict[str, Any]] = {"base_channels": 4, "stage_blocks": (1, 1)}

  def __post_init__(self):
    super().__post_init__()
    hparams.check_positive(self, "base_channels")
    hparams.check_sizes(self, "stage_blocks")


class Residual(nn.Module):
  """d2l's Residual: conv 3x3 (stride s), BN, ReLU, conv 3x3, BN; plus the input (through a 1x1 conv
  of stride s when `project`); ReLU of the sum. Every conv has a bias, as Gluon's default."""

  config: ResNet18DiscriminatorConfig
  features: int
  stride: int
  project: bool

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    cfg = self.config
    y = cfg.conv(self.features, 3, self.stride, 1, bias=True, name="conv_0")(x)
    y = nn.relu(cfg.norm("bn_0", train=train)(y))
    y = cfg.norm("bn_1", train=train)(cfg.conv(self.features, 3, 1, 1, bias=True, name="conv_1")(y))
    if self.project:
      x = cfg.conv(self.features, 1, self.stride, 0, bias=True, name="shortcut")(x)
    return nn.relu(y + x)


class ResNet18Discriminator(nn.Module):
  """images [B, H, W, C] -> features [B, base 2^(stages - 1)]."""

  config: ResNet18DiscriminatorConfig

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    cfg = self.config
    x = cfg.conv(cfg.base_channels, 7, 2, 3, bias=True, name="stem")(x)
    x = cfg.max_pool_3x3(nn.relu(cfg.norm("bn_stem", train=train)(x)))  # [B, H / 4, W / 4, base]
    for i, blocks in enumerate(cfg.stage_blocks):
      for j in range(blocks):
        first = i > 0 and j == 0  # halves the grid and widens: strided, with a 1x1 conv shortcut
        block = Residual(cfg, cfg.base_channels * 2**i, 2 if first else 1, first, name=f"stage_{i}_block_{j}")
        x = block(x, train=train)
    return jnp.mean(x, axis=(1, 2))  # global average pool


ARCHITECTURES.register("resnet18_discriminator", Architecture(ResNet18DiscriminatorConfig, ResNet18Discriminator))
