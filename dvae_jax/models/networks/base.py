"""The network registry: each named network is a config dataclass, an encoder and a decoder.

Interfaces (every network keeps them, so every family can use every network):
  encoder(config)(x [B, H, W, C], *, train) -> features [B, F]
  decoder(config, image_shape)(code [B, D], *, train) -> logits [B, H, W, C] (pre-sigmoid)
Heads that turn features into a posterior, a code or labels belong to the family, not the network.
"""

import dataclasses
from typing import Any, ClassVar

import flax.linen as nn

from dvae_jax.errors import ConfigError
from dvae_jax.models import hparams
from dvae_jax.models.layers import ACTIVATIONS, KERNEL_INITS
from dvae_jax.ops import FAST_OPS, use_fast_ops


@dataclasses.dataclass(frozen=True, kw_only=True)
class NetworkConfig:
  """Fields every network has: its registered name and its weight initializer."""

  name: str
  kernel_init: str = "xavier_normal"
  # Hand-written gradients for transposed convs and max-pools (dvae_jax/ops): "auto" (on for the
  # CPU backend only), "on" or "off" (autodiff of XLA's ops). Same forward values either way.
  fast_ops: str = "auto"
  # What the ":smoke" config variant sets: a tiny network of the same kind, and batch-norm
  # statistics that settle within a few steps.
  SMOKE: ClassVar[dict[str, Any]] = {}

  def __post_init__(self):
    hparams.check_choice(self, "kernel_init", KERNEL_INITS)
    hparams.check_choice(self, "fast_ops", FAST_OPS)
    if hasattr(self, "activation"):
      hparams.check_choice(self, "activation", ACTIVATIONS)

  def check_image_shape(self, image_shape: tuple[int, int, int]) -> None:
    """Raises ConfigError if this network cannot encode / decode images of `image_shape`."""
    del image_shape

  @property
  def fast(self) -> bool:
    """Whether this network's transposed convs and max-pools use dvae_jax.ops (see fast_ops)."""
    return use_fast_ops(self.fast_ops)

  @property
  def batch_norm_momentum(self) -> float | None:
    """The running-average momentum of the network's batch norm, None without batch norm."""
    return self.bn_momentum if getattr(self, "batch_norm", False) else None


@dataclasses.dataclass(frozen=True)
class Architecture:
  config: type[NetworkConfig]
  encoder: type[nn.Module]
  decoder: type[nn.Module] | None = None  # None: an encoder-only network (e.g. a discriminator)


ARCHITECTURES = hparams.Registry("network")


def network_field(default: str):
  """A family config's `network` field: any registered network, chosen by `network.name`."""
  return hparams.choice(ARCHITECTURES, default, config_of=lambda architecture: architecture.config)


def check_divisible(config: NetworkConfig, image_shape: tuple[int, int, int], factor: int, what: str) -> None:
  if image_shape[0] % factor or image_shape[1] % factor:
    raise ConfigError(
      f"images of shape {tuple(image_shape)} cannot be decoded by the {config.name!r} network: {what}, so height and "
      f"width must be divisible by {factor}); change config.model.network or the data."
    )
