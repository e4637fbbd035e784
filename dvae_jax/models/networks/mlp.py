"""A fully connected stack: flatten, `fc_sizes` hidden layers (activation, optional batch norm and
dropout); the decoder mirrors the stack and ends in a dense layer to every pixel."""

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
  SMOKE: ClassVar[dict[str, Any]] = {"fc_sizes": (32,), "bn_momentum": 0.9}

  def __post_init__(self):
    super().__post_init__()
    hparams.check_sizes(self, "fc_sizes", allow_empty=True)
    hparams.check_range(self, "bn_momentum", 0.0, 1.0)
    hparams.check_range(self, "dropout_rate", 0.0, 1.0)

  def hidden(self, x: jax.Array, sizes, *, train: bool) -> jax.Array:
    for i, features in enumerate(sizes):
      x = dense(features, self.kernel_init, f"dense_{i}")(x)
      x = ACTIVATIONS[self.activation](
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
    return self.config.hidden(x.reshape(x.shape[0], -1), self.config.fc_sizes, train=train)


class Decoder(nn.Module):
  """codes [B, D] -> pixel logits [B, H, W, C]."""

  config: MLPConfig
  image_shape: tuple[int, int, int]

  @nn.compact
  def __call__(self, z: jax.Array, *, train: bool) -> jax.Array:
    x = self.config.hidden(z, tuple(reversed(self.config.fc_sizes)), train=train)
    x = dense(math.prod(self.image_shape), self.config.kernel_init, f"dense_{len(self.config.fc_sizes)}")(x)
    return x.reshape(x.shape[0], *self.image_shape)


ARCHITECTURES.register("mlp", Architecture(MLPConfig, Encoder, Decoder))
