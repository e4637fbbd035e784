"""dvae_jax.ops against autodiff of the plain ops: same forward bits, gradients to float32 rounding."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax import ops
from dvae_jax.ops.conv_transpose import DIMENSION_NUMBERS


def _plain_conv_transpose(x, kernel, strides, padding):
  return jax.lax.conv_transpose(x, kernel, strides, padding, dimension_numbers=DIMENSION_NUMBERS)


@pytest.mark.parametrize(
  "height,width,c_in,c_out,kernel,stride,padding",
  [
    (7, 7, 64, 64, 5, 2, "SAME"),  # the reference MNIST decoder's first transposed conv
    (14, 14, 64, 1, 5, 2, "SAME"),  # and its last
    (8, 8, 128, 3, 5, 2, "SAME"),  # the CIFAR-10 decoder's last
    (5, 6, 3, 4, 3, 2, "VALID"),  # odd sizes
    (4, 5, 2, 3, 4, 2, "SAME"),  # even kernel
    (6, 6, 3, 2, 5, 3, "SAME"),  # stride 3
  ],
)
def test_conv_transpose_matches_autodiff(height, width, c_in, c_out, kernel, stride, padding):
  kx, kw, kd = jax.random.split(jax.random.key(height * 100 + c_out), 3)
  x = jax.random.normal(kx, (3, height, width, c_in))
  w = jax.random.normal(kw, (kernel, kernel, c_in, c_out))
  strides = (stride, stride)

  @jax.jit
  def forward_and_gradients(x, w, dy):
    plain = jax.vjp(lambda x, w: _plain_conv_transpose(x, w, strides, padding), x, w)
    fast = jax.vjp(lambda x, w: ops.conv_transpose(x, w, strides, padding), x, w)
    return plain[0], fast[0], plain[1](dy), fast[1](dy)

  shape = jax.eval_shape(lambda x, w: _plain_conv_transpose(x, w, strides, padding), x, w).shape
  y_plain, y_fast, (dx_plain, dw_plain), (dx_fast, dw_fast) = forward_and_gradients(x, w, jax.random.normal(kd, shape))
  np.testing.assert_array_equal(y_fast, y_plain)  # the forward is the same lax call
  np.testing.assert_array_equal(dx_fast, dx_plain)  # autodiff's own input gradient
  scale = float(jnp.max(jnp.abs(dw_plain)))
  np.testing.assert_allclose(dw_fast, dw_plain, rtol=0, atol=2e-6 * scale)


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


def test_conv_transpose_module_equals_flax_layer():
  x = jax.random.normal(jax.random.key(0), (2, 7, 7, 4))
  kwargs = dict(features=3, kernel_size=(5, 5), strides=(2, 2), padding="SAME")
  flax_layer = nn.ConvTranspose(**kwargs, kernel_init=nn.initializers.xavier_normal())
  ours = ops.ConvTranspose(**kwargs, kernel_init=nn.initializers.xavier_normal())
  params = flax_layer.init(jax.random.key(1), x)
  assert jax.tree.structure(ours.init(jax.random.key(1), x)) == jax.tree.structure(params)
  np.testing.assert_array_equal(ours.init(jax.random.key(1), x)["params"]["kernel"], params["params"]["kernel"])
  np.testing.assert_array_equal(ours.apply(params, x), flax_layer.apply(params, x))


def test_fast_ops_setting():
  assert ops.use_fast_ops("on") and not ops.use_fast_ops("off")
  assert ops.use_fast_ops("auto") == (jax.default_backend() == "cpu")
