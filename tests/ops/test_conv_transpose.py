"""ops/conv_transpose.py against the plain op and its autodiff: forward and gradients to float32 rounding (the
input gradient bit for bit), the polyphase forward, and the flax-compatible module."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax import ops
from dvae_jax.ops.conv_transpose import DIMENSION_NUMBERS, polyphase_conv_transpose


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
    (7, 5, 4, 3, 5, 3, "VALID"),  # stride 3, VALID, odd sizes
    (5, 4, 3, 2, 3, 1, "SAME"),  # stride 1: the plain op itself
    (5, 4, 3, 2, 2, 1, "VALID"),
    (3, 4, 2, 5, 1, 2, "SAME"),  # a 1x1 kernel: one phase meets no tap at all (zeros)
    (4, 3, 2, 2, 2, 3, "VALID"),  # kernel smaller than the stride
    (5, 6, 3, 8, 3, 2, "VALID"),  # from MIN_POLYPHASE_FEATURES output channels on, conv_transpose is polyphase
    (4, 5, 2, 9, 4, 2, "SAME"),
    (7, 5, 4, 8, 5, 3, "VALID"),
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
    polyphase = polyphase_conv_transpose(x, w, strides, padding)
    return plain[0], fast[0], polyphase, plain[1](dy), fast[1](dy)

  shape = jax.eval_shape(lambda x, w: _plain_conv_transpose(x, w, strides, padding), x, w).shape
  y_plain, y_fast, y_polyphase, (dx_plain, dw_plain), (dx_fast, dw_fast) = forward_and_gradients(
    x, w, jax.random.normal(kd, shape)
  )
  assert y_fast.shape == y_polyphase.shape == y_plain.shape
  # The polyphase forward sums the same products in another order: float32 rounding of the largest
  # output (a misplaced tap or phase would be off by whole products, ~1 relative).
  scale = float(jnp.max(jnp.abs(y_plain)))
  np.testing.assert_allclose(y_polyphase, y_plain, rtol=0, atol=2e-6 * scale)
  np.testing.assert_allclose(y_fast, y_plain, rtol=0, atol=2e-6 * scale)
  np.testing.assert_array_equal(dx_fast, dx_plain)  # autodiff's own input gradient of the plain op
  scale = float(jnp.max(jnp.abs(dw_plain)))
  np.testing.assert_allclose(dw_fast, dw_plain, rtol=0, atol=2e-6 * scale)


def test_polyphase_forward_of_a_delta_places_the_kernel():
  # One nonzero input pixel at (1, 2), stride 2, SAME, 5x5 kernel: the dilated input holds it at
  # (2, 4) and lax.conv_transpose pads it by lo = 3 (transpose_padding), so output (o_h, o_w) is
  # kernel[2 + 3 - o_h, 4 + 3 - o_w]: the kernel, flipped, at rows 1..5 and columns 3..7. Both output
  # phases of each dimension hold taps, so a phase put back in the wrong place shows.
  x = jnp.zeros((1, 4, 4, 1)).at[0, 1, 2, 0].set(1.0)
  kernel = jnp.arange(25.0).reshape(5, 5, 1, 1)
  y = np.asarray(polyphase_conv_transpose(x, kernel, (2, 2), "SAME"))[0, :, :, 0]
  expected = np.zeros((8, 8))
  expected[1:6, 3:8] = np.arange(25.0).reshape(5, 5)[::-1, ::-1]
  np.testing.assert_array_equal(y, expected)  # one product per output: exact


def test_conv_transpose_module_equals_flax_layer():
  x = jax.random.normal(jax.random.key(0), (2, 7, 7, 4))
  kwargs = dict(features=8, kernel_size=(5, 5), strides=(2, 2), padding="SAME")  # polyphase from 8 outputs on
  flax_layer = nn.ConvTranspose(**kwargs, kernel_init=nn.initializers.xavier_normal())
  fast = ops.ConvTranspose(**kwargs, kernel_init=nn.initializers.xavier_normal())
  plain = ops.ConvTranspose(**kwargs, kernel_init=nn.initializers.xavier_normal(), fast=False)
  params = flax_layer.init(jax.random.key(1), x)
  assert jax.tree.structure(fast.init(jax.random.key(1), x)) == jax.tree.structure(params)
  np.testing.assert_array_equal(fast.init(jax.random.key(1), x)["params"]["kernel"], params["params"]["kernel"])
  expected = flax_layer.apply(params, x)
  np.testing.assert_array_equal(plain.apply(params, x), expected)  # fast_ops=off: flax's bits
  np.testing.assert_allclose(fast.apply(params, x), expected, rtol=0, atol=2e-6 * float(jnp.max(jnp.abs(expected))))
