"""The 64 x 64 face VAE network of xuganyu96/VAE-GAN-learnable-loss as its mxnet code builds it:
the encoder of models/DeepConvVAE.py (models/ConvVAE.py's) and the DCGAN decoder of models/ConvVAE.py
(`decoder_channels=(512, 256, 128, 64)`: the wider one of models/DeepConvVAE.py). dcgan_conv.py is
the lighter stand-in that trains on a CPU.

`face_dcgan`, a VAE network (encoder and decoder); every conv and transposed conv without bias:
  encoder  per `encoder_channels` width: conv 4x4 stride 1 VALID, batch norm, ReLU; flatten
           (64 x 64 -> 61 x 61 x 32 -> 58 x 58 x 64: 215,296 features)
  decoder  the code [B, z] as a 1 x 1 map with z channels; a VALID transposed conv to the initial
           grid (4 x 4), batch norm, ReLU; per further width a transposed conv 4x4 stride 2 (the
           grid doubles), batch norm, ReLU; a last one to the image's channels: logits (the
           original applies the sigmoid here; the family's likelihood does)
           (1 -> 4 -> 8 -> 16 -> 32 -> 64, widths 256, 128, 64, 32, then 3)

What differs from the original:
  - the posterior heads are the family's: by default plain dense layers to the mean and the
    log-variance (together the original's Dense(2 z)); its Dense -> BatchNorm -> ReLU, which forces both
    to be >= 0, is `model.posterior_head="dense_bn_relu"` (the faces experiments' `as_original` variant)
  - the initial grid is (H / 2^n, W / 2^n) for n = len(decoder_channels), made by a transposed conv
    with that kernel from the 1 x 1 map: the original's 4 x 4 for 64 x 64 images and 4 widths, and
    any image whose sides are divisible by 2^n otherwise (the original decodes 64 x 64 only)
  - batch norm and the transposed convs' alignment as gluon_layers.py describes (epsilon 1e-5 and
    momentum 0.9 as in Gluon; outputs aligned as Gluon's, the kernel stored flipped)
"""

import dataclasses
from typing import Any, ClassVar

import flax.linen as nn
import jax

from dvae_jax.errors import ConfigError
from dvae_jax.models import hparams
from dvae_jax.models.networks.base import ARCHITECTURES, Architecture
from dvae_jax.models.networks.gluon_layers import GluonNetworkConfig

ENCODER_KERNEL = 4  # each VALID conv takes ENCODER_KERNEL - 1 pixels off each side's length


@dataclasses.dataclass(frozen=True, kw_only=True)
class FaceDCGANConfig(GluonNetworkConfig):
  name: str = "face_dcgan"
  encoder_channels: tuple[int, ...] = (32, 64)
  # Transposed convs before the last (to the image's channels); models/DeepConvVAE.py: (512, 256, 128, 64).
  decoder_channels: tuple[int, ...] = (256, 128, 64, 32)
  # Two decoder widths: a 16 x 16 initial grid for 64 x 64 images, 7 x 7 for 28 x 28.
  SMOKE: ClassVar[dict[str, Any]] = {"encoder_channels": (4, 4), "decoder_channels": (8, 4)}

  def __post_init__(self):
    super().__post_init__()
    hparams.check_sizes(self, "encoder_channels")
    hparams.check_sizes(self, "decoder_channels")

  @property
  def upsampling(self) -> int:
    """How many times the decoder doubles its initial grid."""
    return 2 ** len(self.decoder_channels)

  def check_image_shape(self, image_shape):
    height, width = image_shape[:2]
    factor = self.upsampling
    if height % factor or width % factor:
      raise ConfigError(
        f"images of shape {tuple(image_shape)} cannot be decoded by the {self.name!r} network: its decoder doubles "
        f"its initial grid once per decoder width ({len(self.decoder_channels)} times for decoder_channels="
        f"{self.decoder_channels}), so height and width must be divisible by {factor} (64 x 64 images with 4 "
        "widths: the original's 4 x 4 grid); change config.model.network.decoder_channels or the data."
      )
    smallest = (ENCODER_KERNEL - 1) * len(self.encoder_channels) + 1
    if min(height, width) < smallest:
      raise ConfigError(
        f"images of shape {tuple(image_shape)} are too small for the {self.name!r} network's encoder: its "
        f"{len(self.encoder_channels)} VALID {ENCODER_KERNEL}x{ENCODER_KERNEL} convs need height and width of at "
        f"least {smallest}; change config.model.network.encoder_channels or the data."
      )


class Encoder(nn.Module):
  """images [B, H, W, C] -> features [B, (H - 3 n) (W - 3 n) encoder_channels[-1]], n convs."""

  config: FaceDCGANConfig

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    cfg = self.config
    for i, features in enumerate(cfg.encoder_channels):
      x = cfg.conv(features, ENCODER_KERNEL, 1, 0, bias=False, name=f"conv_{i}")(x)
      x = nn.relu(cfg.norm(f"bn_conv_{i}", train=train)(x))
    return x.reshape(x.shape[0], -1)


class Decoder(nn.Module):
  """codes [B, D] -> logits [B, H, W, C]."""

  config: FaceDCGANConfig
  image_shape: tuple[int, int, int]

  @nn.compact
  def __call__(self, z: jax.Array, *, train: bool) -> jax.Array:
    cfg = self.config
    height, width, channels = self.image_shape
    grid = (height // cfg.upsampling, width // cfg.upsampling)
    x = z.reshape(z.shape[0], 1, 1, z.shape[-1])  # [B, 1, 1, D]
    # Gluon's Conv2DTranspose(kernel=grid, strides=1, padding=0): 1 x 1 -> grid.
    x = cfg.deconv(cfg.decoder_channels[0], grid, 1, "VALID", "deconv_0")(x)
    x = nn.relu(cfg.norm("bn_deconv_0", train=train)(x))
    for i, features in enumerate(cfg.decoder_channels[1:], start=1):
      # Gluon's Conv2DTranspose(kernel=4, strides=2, padding=1): the grid doubles.
      x = cfg.deconv(features, (4, 4), 2, "SAME", f"deconv_{i}")(x)
      x = nn.relu(cfg.norm(f"bn_deconv_{i}", train=train)(x))
    return cfg.deconv(channels, (4, 4), 2, "SAME", f"deconv_{len(cfg.decoder_channels)}")(x)  # [B, H, W, C]


ARCHITECTURES.register("face_dcgan", Architecture(FaceDCGANConfig, Encoder, Decoder))
