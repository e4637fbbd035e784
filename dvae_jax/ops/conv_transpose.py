"""Strided transposed convolution computed polyphase, with a kernel gradient that is one GEMM.

Forward. `lax.conv_transpose` with stride s runs as a convolution over the zero-dilated input:
s^2 times the FLOPs that meet a nonzero input (4x for stride 2). Output position o = s * q + r only
meets kernel taps k = k0(r) + s * j, and those meet inputs q + d(r) + j: per output phase r, an
ordinary undilated convolution with the sub-kernel w[k0(r)::s]. All s^2 phases run as ONE
convolution whose output channels are (phase, C_out): each phase's sub-kernel is placed at its
offset in a common window (zeros elsewhere; for 5x5 stride 2, a 3x3 window, 36 instead of 100
multiply-adds per input position and channel pair), and the phases are interleaved back (depth to
space). One convolution with s^2 * C_out outputs keeps XLA:CPU on its GEMM path even for C_out = 1,
where s^2 separate convolutions with one output channel each run slowly. The result equals the
plain op's up to float32 rounding (the same products, summed in another order). For outputs with
few channels (the MNIST decoder's last layer, 64 -> 1) XLA:CPU's own op measured faster than this
one (its s^2 * C_out = 4 output columns make a poor GEMM), so `conv_transpose` keeps the plain
forward below `MIN_POLYPHASE_FEATURES` output channels.

Kernel gradient. XLA:CPU lowers the kernel gradient of `lax.conv_transpose` to an rhs-dilated, window-reversed
convolution that falls to its generic loop emitter (about 25x slower than a GEMM of the same
FLOPs). For stride s, the forward is y = conv(dilate_s(x), w) with padding (lo, hi), so each
kernel tap k only meets every s-th output position:

  dw[k] = sum_{b, m} x[b, m] * dy[b, s * m + lo - k]       (per spatial dimension)

i.e. for every tap a strided slice of dy (one polyphase component, shifted), and all taps
together one matrix product x^T [C_in, N] @ dy_taps [N, taps * C_out]. The input gradient is
autodiff's of the plain op (an ordinary strided convolution, already fast).
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

DIMENSION_NUMBERS = ("NHWC", "HWIO", "NHWC")
# Below this many output channels the plain forward is faster on XLA:CPU. Measured on the reference
# MNIST decoder's importance-weighted NLL (interleaved runs, shared machine): polyphase for both
# transposed convs 2871 decodes/s, for the 64 -> 64 one only 3099, plain for both 1762.
MIN_POLYPHASE_FEATURES = 8


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


def _fast_forward(x: jax.Array, kernel: jax.Array, strides: tuple[int, int], padding: str) -> jax.Array:
  if kernel.shape[-1] < MIN_POLYPHASE_FEATURES:
    return _forward(x, kernel, strides, padding)
  return polyphase_conv_transpose(x, kernel, strides, padding)


def _phase_window(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int, int, np.ndarray]:
  """One spatial dimension's polyphase geometry.

  Returns (output size, outputs per phase q, window start, taps [window, stride]): output
  s * p + r is the sum over j of input[p + start + j] * kernel[taps[j, r]], where taps[j, r] ==
  kernel (one past the last tap) marks a window slot phase r does not use.
  """
  lo, hi = transpose_padding(kernel, stride, padding)
  out = (size - 1) * stride + 1 + lo + hi - kernel + 1
  # Phase r meets taps k0 + s * j (k0 = (lo - r) mod s) at inputs p + offset + j.
  phases = []
  for r in range(stride):
    k0 = (lo - r) % stride
    phases.append((k0, len(range(k0, kernel, stride)), (r + k0 - lo) // stride))
  start = min(offset for _, _, offset in phases)
  window = max(offset + count for _, count, offset in phases) - start
  taps = np.full((window, stride), kernel, np.int32)
  for r, (k0, count, offset) in enumerate(phases):
    taps[offset - start : offset - start + count, r] = k0 + stride * np.arange(count)
  return out, -(-out // stride), start, taps


def polyphase_conv_transpose(x: jax.Array, kernel: jax.Array, strides: tuple[int, int], padding: str) -> jax.Array:
  """`lax.conv_transpose(x, kernel, strides, padding)` (NHWC, HWIO) as one undilated convolution
  whose output channels are the s_h * s_w output phases, interleaved back (see the module docstring).
  Equal to the plain op up to float32 rounding."""
  if tuple(strides) == (1, 1):
    return _forward(x, kernel, strides, padding)  # nothing is dilated: the plain op is already dense
  batch, height, width, c_in = x.shape
  kh, kw, _, c_out = kernel.shape
  sh, sw = strides
  out_h, q_h, start_h, taps_h = _phase_window(height, kh, sh, padding)
  out_w, q_w, start_w, taps_w = _phase_window(width, kw, sw, padding)
  padded_kernel = jnp.pad(kernel, ((0, 1), (0, 1), (0, 0), (0, 0)))  # the zero tap unused slots point at
  window = padded_kernel[taps_h[:, None, :, None], taps_w[None, :, None, :]]  # [Wh, Ww, sh, sw, C_in, C_out]
  window = window.transpose(0, 1, 4, 2, 3, 5).reshape(len(taps_h), len(taps_w), c_in, sh * sw * c_out)
  # Pad (or crop, where negative) x so that window position p covers inputs p + start ... .
  config = [
    (0, 0, 0),
    (-start_h, q_h - 1 + start_h + taps_h.shape[0] - height, 0),
    (-start_w, q_w - 1 + start_w + taps_w.shape[0] - width, 0),
    (0, 0, 0),
  ]
  x = lax.pad(x, jnp.zeros((), x.dtype), config)
  y = lax.conv_general_dilated(x, window, (1, 1), "VALID", dimension_numbers=DIMENSION_NUMBERS)  # [B, qh, qw, phases]
  y = y.reshape(batch, q_h, q_w, sh, sw, c_out).transpose(0, 1, 3, 2, 4, 5).reshape(batch, q_h * sh, q_w * sw, c_out)
  return y[:, :out_h, :out_w]


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
  """`lax.conv_transpose(x, kernel, strides, padding)` (NHWC, HWIO) to float32 rounding: the polyphase
  forward (from `MIN_POLYPHASE_FEATURES` output channels on) and the GEMM kernel gradient."""
  return _fast_forward(x, kernel, strides, padding)


def _conv_transpose_fwd(x, kernel, strides, padding):
  return _fast_forward(x, kernel, strides, padding), (x, kernel)


def _conv_transpose_bwd(strides, padding, residuals, dy):
  x, kernel = residuals
  _, input_vjp = jax.vjp(lambda x: _forward(x, kernel, strides, padding), x)
  (dx,) = input_vjp(dy)
  return dx, kernel_gradient(x, dy, kernel.shape, strides, padding)


conv_transpose.defvjp(_conv_transpose_fwd, _conv_transpose_bwd)


class ConvTranspose(nn.Module):
  """`flax.linen.ConvTranspose` for 2-D NHWC inputs (same parameters and names), computed with
  `conv_transpose` when `fast` is set (forward values equal to float32 rounding), else with the plain
  op flax's own layer runs (the same bits)."""

  features: int
  kernel_size: tuple[int, int]
  strides: tuple[int, int] = (1, 1)
  padding: str = "SAME"
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  use_bias: bool = True
  fast: bool = True

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param("kernel", self.kernel_init, (*self.kernel_size, x.shape[-1], self.features), jnp.float32)
    if self.fast:
      y = conv_transpose(x, kernel, tuple(self.strides), self.padding)
    else:
      y = _forward(x, kernel, tuple(self.strides), self.padding)
    if not self.use_bias:
      return y
    bias = self.param("bias", nn.initializers.zeros_init(), (self.features,), jnp.float32)
    return y + bias.reshape(1, 1, 1, -1)
