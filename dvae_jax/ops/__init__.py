"""Ops with hand-written gradients where XLA:CPU's own are slow (see each module's docstring).

Each op computes exactly the forward pass of the plain op (the same lax call) and differs from
autodiff only in how its gradient is computed, to float32 rounding; tests pin both against
autodiff of the plain op. Networks choose them with `model.network.fast_ops`: "auto" (on for the
CPU backend, where they pay; off on GPU/TPU, where XLA's own kernels are the right choice),
"on" or "off".
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
