"""Ops computed differently from XLA's own where XLA:CPU is slow (see each module's docstring).

The max-pool runs the plain op's forward (the same lax call, the same bits) with a hand-written
gradient. The transposed convolution runs a polyphase forward (no multiplications by the
dilation's zeros; the plain forward for outputs with fewer than 8 channels, where that is faster)
and a hand-written kernel gradient, both equal to the plain op's to float32 rounding (the same
products summed in another order); tests pin forwards and gradients against the plain ops and
their autodiff. Networks choose them with `model.network.fast_ops`: "auto" (on for the CPU
backend, where they pay; off on GPU/TPU, where XLA's own kernels are the right choice), "on" or
"off". With "off" the networks run flax's own layers: the bits of earlier versions.
"""

import jax

from dvae_jax.ops.conv_transpose import ConvTranspose, conv_transpose
from dvae_jax.ops.max_pool import max_pool

FAST_OPS = ("auto", "on", "off")


def use_fast_ops(setting: str) -> bool:
  """Whether `setting` ("auto", "on", "off") selects the hand-written gradients on this backend."""
  if setting == "auto":
    return jax.default_backend() == "cpu"
  return setting == "on"


__all__ = ["FAST_OPS", "ConvTranspose", "conv_transpose", "max_pool", "use_fast_ops"]
