"""Layers as mxnet Gluon builds them, for the networks of xuganyu96/VAE-GAN-learnable-loss
(face_dcgan.py, xuganyu96_discriminators.py).

Gluon's defaults, kept here (NCHW there, NHWC here):
  Conv2D(padding=p)   p zeros on each side of each spatial dimension (explicit, symmetric)
  Conv2DTranspose     pads the stride-dilated input by k - 1 - p on each side: see `deconv`
  BatchNorm           momentum 0.9 (running = 0.9 running + 0.1 batch, flax's convention too),
                      epsilon 1e-5 (layers.batch_norm has TF's 1e-3, so nn.BatchNorm is built here
                      directly), trainable scale (gamma, from 1) and offset (beta, from 0)
  mx.init.Xavier()    uniform, magnitude 3, fan "avg": U(+-sqrt(6 / (fan_in + fan_out))), Glorot
                      uniform ("xavier_uniform"); biases start at zero
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from dvae_jax import ops
from dvae_jax.models import hparams
from dvae_jax.models.layers import KERNEL_INITS
from dvae_jax.models.networks.base import NetworkConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class GluonNetworkConfig(NetworkConfig):
  """Fields every Gluon-built network has: Gluon's initializer and batch norm."""

  name: str
  kernel_init: str = "xavier_uniform"  # mx.init.Xavier()
  bn_momentum: float = 0.9  # Gluon's default
  bn_epsilon: float = 1e-5  # Gluon's default

  def __post_init__(self):
    super().__post_init__()
    hparams.check_range(self, "bn_momentum", 0.0, 1.0)
    hparams.check_range(self, "bn_epsilon", 0.0, 1.0, low_open=True)

  @property
  def batch_norm_momentum(self) -> float:
    return self.bn_momentum  # these networks always have batch norm

  def conv(self, features: int, kernel: int, stride: int, pad: int, *, bias: bool, name: str) -> nn.Conv:
    """Gluon's Conv2D(features, kernel, stride, padding=pad, use_bias=bias)."""
    return nn.Conv(
      features,
      (kernel, kernel),
      (stride, stride),
      padding=((pad, pad), (pad, pad)),
      use_bias=bias,
      kernel_init=KERNEL_INITS[self.kernel_init],
      name=name,
    )

  def norm(self, name: str, *, train: bool) -> nn.BatchNorm:
    """Gluon's BatchNorm(): batch statistics when `train` (updating the running averages), else those."""
    return nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum, epsilon=self.bn_epsilon, name=name)

  def deconv(self, features: int, kernel: tuple[int, int], stride: int, padding: str, name: str) -> nn.Module:
    """Gluon's Conv2DTranspose(features, kernel, stride, padding=p, use_bias=False) on NHWC inputs.

    Gluon computes the gradient of a convolution: the stride-dilated input padded by k - 1 - p on
    each side, convolved with the spatially flipped kernel. `lax.conv_transpose` pads it by
    ops.conv_transpose.transpose_padding(k, s, padding): "VALID" is k - 1 on each side (Gluon's
    p = 0) and "SAME" for k = 4, s = 2 is 2 on each side (Gluon's p = 1, output exactly twice the
    input), so the outputs align with Gluon's. The kernel is applied unflipped (flax's convention):
    a relabelling of the same weights (this kernel[i, j], [C_in, C_out], is Gluon's
    weight[:, :, k - 1 - i, k - 1 - j]), with the same count and initial distribution. A stride-1
    one dilates nothing, so the plain op is already dense: ops' fast path (one slice per tap in
    its kernel gradient) only for strided ones.
    """
    fast = self.fast and stride != 1
    init = KERNEL_INITS[self.kernel_init]
    return ops.ConvTranspose(
      features, kernel, (stride, stride), padding, kernel_init=init, use_bias=False, fast=fast, name=name
    )

  def max_pool_3x3(self, x: jax.Array) -> jax.Array:
    """Gluon's MaxPool2D(3, strides=2, padding=1): one -inf row / column on each side (the output is
    aligned like Gluon's; "SAME" would pad 0 before and 1 after), then a VALID pool."""
    x = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-jnp.inf)
    return ops.max_pool(x, (3, 3), (2, 2), "VALID") if self.fast else nn.max_pool(x, (3, 3), (2, 2), "VALID")
