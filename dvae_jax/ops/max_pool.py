"""Max-pooling whose gradient is computed with strided compares instead of `select_and_scatter`.

XLA:CPU runs the `select_and_scatter` of a 3x3 / 2 max-pool's gradient an order of magnitude
slower than the pooling itself. Here every window offset (i, j) is one strided slice of the
padded input; the gradient goes to the FIRST offset (row-major within the window) that holds the
window's maximum, the rule `select_and_scatter` applies with its `>=` select, and is put back in
place with an interior-padded add.
"""

import functools

import jax
import jax.numpy as jnp
from jax import lax


def _pads(size: int, window: int, stride: int, padding: str) -> tuple[int, int]:
  if padding == "VALID":
    return 0, 0
  if padding != "SAME":
    raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
  out = -(-size // stride)
  total = max((out - 1) * stride + window - size, 0)
  return total // 2, total - total // 2


def _forward(x, window, strides, padding):
  return lax.reduce_window(x, -jnp.inf, lax.max, (1, *window, 1), (1, *strides, 1), padding)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
def max_pool(x: jax.Array, window: tuple[int, int], strides: tuple[int, int], padding: str = "SAME") -> jax.Array:
  """`flax.linen.max_pool(x, window, strides, padding)` on NHWC x, with the strided-compare gradient."""
  return _forward(x, window, strides, padding)


def _max_pool_fwd(x, window, strides, padding):
  y = _forward(x, window, strides, padding)
  return y, (x, y)


def _max_pool_bwd(window, strides, padding, residuals, dy):
  x, y = residuals
  (wh, ww), (sh, sw) = window, strides
  (out_h, out_w) = y.shape[1:3]
  pads = [_pads(x.shape[1], wh, sh, padding), _pads(x.shape[2], ww, sw, padding)]
  padded = jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=-jnp.inf)
  taken = jnp.zeros(y.shape, bool)
  grad = jnp.zeros(padded.shape, dy.dtype)
  for i in range(wh):
    for j in range(ww):
      limit = (x.shape[0], i + sh * (out_h - 1) + 1, j + sw * (out_w - 1) + 1, x.shape[3])
      candidate = lax.slice(padded, (0, i, j, 0), limit, (1, sh, sw, 1))  # [B, out_h, out_w, C]
      here = (candidate == y) & ~taken
      taken = taken | here
      contribution = jnp.where(here, dy, jnp.zeros_like(dy))
      # Put window offset (i, j) of output (p, q) back at padded position (s * p + i, s * q + j).
      config = [
        (0, 0, 0),
        (i, padded.shape[1] - limit[1], sh - 1),
        (j, padded.shape[2] - limit[2], sw - 1),
        (0, 0, 0),
      ]
      grad = grad + lax.pad(contribution, jnp.zeros((), dy.dtype), config)
  grad = grad[:, pads[0][0] : pads[0][0] + x.shape[1], pads[1][0] : pads[1][0] + x.shape[2]]
  return (grad,)


max_pool.defvjp(_max_pool_fwd, _max_pool_bwd)
