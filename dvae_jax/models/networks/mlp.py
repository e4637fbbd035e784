"""A fully connected stack: flatten, `fc_sizes` hidden layers (activation, optional batch norm and
dropout); the decoder mirrors the stack (or uses `decoder_fc_sizes`) and ends in a dense layer to
every pixel.

In an autoencoder the encoder's last layer is the code: `code_activation` sets its activation
(e.g. a sigmoid code for a sparse AE), and `decoder_fc_sizes` drops the mirror's first layer, which
would repeat the code's width (Hands-On ML's 784-100-30 encoder has a 30-100-784 decoder:
`fc_sizes=(100, 30), decoder_fc_sizes=(100,)`).
"""

import dataclasses
import math
from typing import Any, ClassVar

import flax.linen as nn
import jax

from dvae_jax.models import hparams
from dvae_jax.models.layers import ACTIVATIONS, batch_norm, dense
from dvae_jax.models.networks.base import ARCHITECTURES, Architecture, NetworkConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class MLPConfig(NetworkConfig):
  name: str = "mlp"
  fc_sizes: tuple[int, ...] = (500,)  # encoder order; the decoder mirrors it
  activation: str = "relu"
  batch_norm: bool = False
  bn_momentum: float = 0.99
  dropout_rate: float = 0.0  # after every hidden layer, in training only
  code_activation: str | None = None  # the encoder's last layer's; None: `activation`
  decoder_fc_sizes: tuple[int, ...] | None = None  # None: the mirror of fc_sizes
  SMOKE: ClassVar[dict[str, Any]] = {"fc_sizes": (32,), "bn_momentum": 0.9}

  def __post_init__(self):
    super().__post_init__()
    hparams.check_sizes(self, "fc_sizes", allow_empty=True)
    hparams.check_range(self, "bn_momentum", 0.0, 1.0)
    hparams.check_range(self, "dropout_rate", 0.0, 1.0)
    if self.code_activation is not None:
      hparams.check_choice(self, "code_activation", ACTIVATIONS)
    if self.decoder_fc_sizes is not None:
      hparams.check_sizes(self, "decoder_fc_sizes", allow_empty=True)

  @property
  def decoder_sizes(self) -> tuple[int, ...]:
    return tuple(reversed(self.fc_sizes)) if self.decoder_fc_sizes is None else self.decoder_fc_sizes

  def hidden(self, x: jax.Array, sizes, *, train: bool, last_activation: str | None = None) -> jax.Array:
    for i, features in enumerate(sizes):
      x = dense(features, self.kernel_init, f"dense_{i}")(x)
      activation = last_activation if last_activation is not None and i == len(sizes) - 1 else self.activation
      x = ACTIVATIONS[activation](
        batch_norm(self.batch_norm, f"bn_dense_{i}", train=train, momentum=self.bn_momentum)(x)
      )
      if self.dropout_rate:
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return x


class Encoder(nn.Module):
  """images [B, H, W, C] -> features [B, fc_sizes[-1]] (the flattened image if fc_sizes is empty)."""

  config: MLPConfig

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    cfg = self.config
    return cfg.hidden(x.reshape(x.shape[0], -1), cfg.fc_sizes, train=train, last_activation=cfg.code_activation)


class Decoder(nn.Module):
  """codes [B, D] -> pixel logits [B, H, W, C]."""

  config: MLPConfig
  image_shape: tuple[int, int, int]

  @nn.compact
  def __call__(self, z: jax.Array, *, train: bool) -> jax.Array:
    sizes = self.config.decoder_sizes
    x = self.config.hidden(z, sizes, train=train)
    x = dense(math.prod(self.image_shape), self.config.kernel_init, f"dense_{len(sizes)}")(x)
    return x.reshape(x.shape[0], *self.image_shape)


ARCHITECTURES.register("mlp", Architecture(MLPConfig, Encoder, Decoder))
