"""ops/max_pool.py against the plain op and its autodiff, ties included (its forward bit for bit)."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax import ops


@pytest.mark.parametrize(
  "height,width,window,stride,padding",
  [(28, 28, 3, 2, "SAME"), (14, 14, 3, 2, "SAME"), (7, 7, 3, 2, "SAME"), (28, 28, 2, 2, "SAME"), (5, 9, 3, 2, "VALID")],
)
def test_max_pool_matches_autodiff_including_ties(height, width, window, stride, padding):
  x = jax.random.normal(jax.random.key(height + window), (2, height, width, 3))
  x = jnp.round(x * 2) / 2  # many ties inside windows: the gradient must go where select_and_scatter sends it
  args = ((window, window), (stride, stride), padding)

  @jax.jit
  def forward_and_gradients(x, key):
    y_plain, vjp_plain = jax.vjp(lambda x: nn.max_pool(x, *args), x)
    y_fast, vjp_fast = jax.vjp(lambda x: ops.max_pool(x, *args), x)
    dy = jax.random.normal(key, y_plain.shape)
    return y_plain, y_fast, vjp_plain(dy)[0], vjp_fast(dy)[0]

  y_plain, y_fast, dx_plain, dx_fast = forward_and_gradients(x, jax.random.key(7))
  np.testing.assert_array_equal(y_fast, y_plain)
  # Overlapping windows add their contributions in another order: float32 rounding only (a tie
  # routed elsewhere would differ by a whole dy entry).
  np.testing.assert_allclose(dx_fast, dx_plain, rtol=0, atol=1e-6)


def test_max_pool_routes_a_tie_to_the_first_maximum():
  x = jnp.array([1.0, 3.0, 3.0, 0.0]).reshape(1, 2, 2, 1)
  grad = jax.grad(lambda x: jnp.sum(ops.max_pool(x, (2, 2), (2, 2), "VALID")))(x)
  np.testing.assert_array_equal(grad.reshape(-1), [0.0, 1.0, 0.0, 0.0])
