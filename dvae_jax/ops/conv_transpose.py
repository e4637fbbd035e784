"""Transposed convolution whose kernel gradient is one GEMM over strided slices.

XLA:CPU lowers the kernel gradient of `lax.conv_transpose` to an rhs-dilated, window-reversed
convolution that falls to its generic loop emitter (about 25x slower than a GEMM of the same
FLOPs). For stride s, the forward is y = conv(dilate_s(x), w) with padding (lo, hi), so each
kernel tap k only meets every s-th output position:

  dw[k] = sum_{b, m} x[b, m] * dy[b, s * m + lo - k]       (per spatial dimension)

i.e. for every tap a strided slice of dy (one polyphase component, shifted), and all taps
together one matrix product x^T [C_in, N] @ dy_taps [N, taps * C_out]. The input gradient is
autodiff's (an ordinary strided convolution, already fast).
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

DIMENSION_NUMBERS = ("NHWC", "HWIO", "NHWC")


def transpose_padding(kernel: int, stride: int, padding: str) -> tuple[int, int]:
  """(lo, hi) padding of the lhs-dilated convolution that `lax.conv_transpose` runs."""
  if padding == "SAME":
    total = kernel + stride - 2
    lo = kernel - 1 if stride > kernel - 1 else -(-total // 2)
  elif padding == "VALID":
    total = kernel + stride - 2 + max(kernel - stride, 0)
    lo = kernel - 1
  else:
    raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
  return lo, total - lo


def _forward(x: jax.Array, kernel: jax.Array, strides: tuple[int, int], padding: str) -> jax.Array:
  return lax.conv_transpose(x, kernel, strides, padding, dimension_numbers=DIMENSION_NUMBERS)


def kernel_gradient(x: jax.Array, dy: jax.Array, kernel_shape, strides, padding: str) -> jax.Array:
  """d loss / d kernel [KH, KW, C_in, C_out] of `conv_transpose(x, kernel)` given dy = d loss / dy."""
  batch, height, width, _ = x.shape
  kh, kw, _, c_out = kernel_shape
  (sh, sw), (out_h, out_w) = strides, dy.shape[1:3]
  lo_h = transpose_padding(kh, sh, padding)[0]
  lo_w = transpose_padding(kw, sw, padding)[0]
  # Pad dy so that every index s * m + lo - k (m < H, k < K) lies inside it.
  high_h = max(0, sh * (height - 1) + lo_h + 1 - out_h)
  high_w = max(0, sw * (width - 1) + lo_w + 1 - out_w)
  padded = jnp.pad(dy, ((0, 0), (kh, high_h), (kw, high_w), (0, 0)))
  taps = []
  for i in range(kh):
    for j in range(kw):
      start = (0, lo_h - i + kh, lo_w - j + kw, 0)
      limit = (batch, start[1] + sh * (height - 1) + 1, start[2] + sw * (width - 1) + 1, c_out)
      taps.append(lax.slice(padded, start, limit, (1, sh, sw, 1)))  # [B, H, W, C_out]
  dy_taps = jnp.stack(taps, axis=3)  # [B, H, W, taps, C_out]
  grad = jnp.einsum("bhwi,bhwto->tio", x, dy_taps, preferred_element_type=jnp.float32)
  return grad.reshape(kh, kw, x.shape[-1], c_out).astype(dy.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv_transpose(x: jax.Array, kernel: jax.Array, strides: tuple[int, int], padding: str) -> jax.Array:
  """`lax.conv_transpose(x, kernel, strides, padding)` (NHWC, HWIO), with the GEMM kernel gradient."""
  return _forward(x, kernel, strides, padding)


def _conv_transpose_fwd(x, kernel, strides, padding):
  return _forward(x, kernel, strides, padding), (x, kernel)


def _conv_transpose_bwd(strides, padding, residuals, dy):
  x, kernel = residuals
  _, input_vjp = jax.vjp(lambda x: _forward(x, kernel, strides, padding), x)
  (dx,) = input_vjp(dy)
  return dx, kernel_gradient(x, dy, kernel.shape, strides, padding)


conv_transpose.defvjp(_conv_transpose_fwd, _conv_transpose_bwd)


class ConvTranspose(nn.Module):
  """`flax.linen.ConvTranspose` for 2-D NHWC inputs (same parameters, names and forward values),
  computed with `conv_transpose` when `fast` is set, else with flax's own layer."""

  features: int
  kernel_size: tuple[int, int]
  strides: tuple[int, int] = (1, 1)
  padding: str = "SAME"
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  fast: bool = True

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param("kernel", self.kernel_init, (*self.kernel_size, x.shape[-1], self.features), jnp.float32)
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,), jnp.float32)
    if self.fast:
      y = conv_transpose(x, kernel, tuple(self.strides), self.padding)
    else:
      y = _forward(x, kernel, tuple(self.strides), self.padding)
    return y + bias.reshape(1, 1, 1, -1)
