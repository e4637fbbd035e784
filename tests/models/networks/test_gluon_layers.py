"""models/networks/gluon_layers.py: the Gluon layers of the xuganyu96 networks (face_dcgan.py,
xuganyu96_discriminators.py): every such network's shapes at full and smoke size, a train step with batch
norm, Gluon's batch norm, and the Gluon alignment of the transposed convs and the padded max-pool against numpy."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax.models import ARCHITECTURES
from dvae_jax.models.networks import NetworkConfig
from dvae_jax.models.networks.gluon_layers import GluonNetworkConfig
from dvae_jax.ops.conv_transpose import transpose_padding
from tests.helpers import FACES, abstract_init, encoder


def test_full_size_shapes():
  x = jnp.zeros((2, *FACES))
  shapes = {"face_dcgan": (2, 215_296), "conv_bn_discriminator": (2, 8 * 8 * 128)}
  shapes |= {"deep_conv_bn_discriminator": (2, 4 * 4 * 512), "resnet18_discriminator": (2, 512)}
  for name, shape in shapes.items():
    module = encoder(name)
    variables = abstract_init(module, x)
    assert jax.eval_shape(lambda v, m=module: m.apply(v, x, train=False), variables).shape == shape, name
  z = jnp.zeros((2, 512))
  for channels in ((256, 128, 64, 32), (512, 256, 128, 64)):
    decoder = ARCHITECTURES["face_dcgan"].decoder(ARCHITECTURES["face_dcgan"].config(decoder_channels=channels), FACES)
    variables = abstract_init(decoder, z)
    assert jax.eval_shape(lambda v, d=decoder: d.apply(v, z, train=False), variables).shape == (2, *FACES)


class EncodeDecode(nn.Module):
  """A network's encoder, a dense code of 8, and its decoder: images -> logits."""

  config: NetworkConfig
  image_shape: tuple[int, int, int]

  def setup(self):
    architecture = ARCHITECTURES[self.config.name]
    self.encoder = architecture.encoder(self.config)
    self.code = nn.Dense(8)
    self.decoder = architecture.decoder(self.config, self.image_shape)

  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    return self.decoder(self.code(self.encoder(x, train=train)), train=train)

  def encode(self, x: jax.Array, *, train: bool) -> jax.Array:
    return self.encoder(x, train=train)


SMOKE_FEATURES = [
  ("face_dcgan", FACES, 58 * 58 * 4),
  ("conv_bn_discriminator", FACES, 8 * 8 * 16),
  ("deep_conv_bn_discriminator", FACES, 4 * 4 * 32),
  ("resnet18_discriminator", FACES, 8),
]


@pytest.mark.parametrize("name,image_shape,features", [*SMOKE_FEATURES, ("face_dcgan", (28, 28, 1), 22 * 22 * 4)])
def test_smoke_size_shapes(name, image_shape, features):
  architecture = ARCHITECTURES[name]
  config = architecture.config(**architecture.config.SMOKE)
  x = jnp.zeros((3, *image_shape))
  module = architecture.encoder(config)
  variables = abstract_init(module, x)
  assert jax.eval_shape(lambda v: module.apply(v, x, train=False), variables).shape == (3, features)
  if architecture.decoder is not None:
    config.check_image_shape(image_shape)
    decoder, z = architecture.decoder(config, image_shape), jnp.zeros((3, 8))
    variables = abstract_init(decoder, z)
    assert jax.eval_shape(lambda v: decoder.apply(v, z, train=False), variables).shape == (3, *image_shape)


@pytest.mark.parametrize("name,image_shape,features", SMOKE_FEATURES)
def test_smoke_size_train_step_and_eval(name, image_shape, features):
  """Train mode: finite gradients and updated running statistics; eval mode: deterministic, and each
  image's output independent of the rest of the batch (running averages, not batch statistics)."""
  architecture = ARCHITECTURES[name]
  config = architecture.config(**architecture.config.SMOKE)
  x = jax.random.uniform(jax.random.key(1), (4, *image_shape))
  if architecture.decoder is None:
    module, inputs, out_shape = architecture.encoder(config), x, (4, features)
  else:
    module, inputs, out_shape = EncodeDecode(config, image_shape), x, (4, *image_shape)
  # Jitted: one compilation each runs faster on a CPU than dispatching every op eagerly.
  variables = jax.jit(lambda key, x: module.init(key, x, train=False))(jax.random.key(0), inputs)
  stats = variables["batch_stats"]

  def loss(params):
    out, updates = module.apply({"params": params, "batch_stats": stats}, inputs, train=True, mutable=["batch_stats"])
    return jnp.mean(out**2), (out, updates)

  (value, (out, updates)), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(variables["params"])
  assert out.shape == out_shape and np.isfinite(float(value))
  assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
  assert all(float(jnp.abs(g).max()) > 0 for g in jax.tree.leaves(grads))
  assert jax.tree.structure(updates["batch_stats"]) == jax.tree.structure(stats)
  for new, old in zip(jax.tree.leaves(updates["batch_stats"]), jax.tree.leaves(stats), strict=True):
    assert not np.allclose(new, old)
  trained = {"params": variables["params"], **updates}
  evaluate = jax.jit(lambda variables, x: module.apply(variables, x, train=False))
  first = evaluate(trained, inputs)
  np.testing.assert_array_equal(first, evaluate(trained, inputs))
  np.testing.assert_allclose(evaluate(trained, inputs[:1]), first[:1], rtol=1e-5, atol=1e-6)
  if architecture.decoder is not None:
    assert module.apply(trained, inputs, train=False, method="encode").shape == (4, features)


@pytest.mark.parametrize("name", ["face_dcgan", "conv_bn_discriminator", "resnet18_discriminator"])
def test_batch_norm_is_gluons(name):
  """Gluon's BatchNorm(): epsilon 1e-5 (TF's 1e-3 would give 0.30 below), running = 0.9 running + 0.1
  batch, trainable scale and offset; and Xavier-uniform weights."""
  config = ARCHITECTURES[name].config()
  assert (config.kernel_init, config.bn_epsilon, config.batch_norm_momentum) == ("xavier_uniform", 1e-5, 0.9)
  x = jnp.array([0.01, -0.01]).reshape(2, 1, 1, 1)  # batch mean 0, variance 1e-4
  norm = config.norm("bn", train=True)
  variables = norm.init(jax.random.key(0), x)
  assert jax.tree.map(jnp.shape, variables["params"]) == {"scale": (1,), "bias": (1,)}
  y, updates = norm.apply(variables, x, mutable=["batch_stats"])
  np.testing.assert_allclose(y.ravel(), [0.01 / np.sqrt(1e-4 + 1e-5), -0.01 / np.sqrt(1e-4 + 1e-5)], rtol=1e-4)
  np.testing.assert_allclose(updates["batch_stats"]["var"], [0.9 + 0.1 * 1e-4], rtol=1e-6)


def gluon_deconv(x: np.ndarray, weight: np.ndarray, stride: int, pad: int) -> np.ndarray:
  """mxnet's Deconvolution (no bias) on NHWC x, weight [C_in, C_out, K, K]: input (i, j) adds
  x[i, j] @ weight[:, :, a, b] to output (s i - p + a, s j - p + b)."""
  batch, height, width, _ = x.shape
  kernel = weight.shape[-1]
  out = np.zeros(
    (batch, (height - 1) * stride - 2 * pad + kernel, (width - 1) * stride - 2 * pad + kernel, weight.shape[1])
  )
  for i in range(height):
    for j in range(width):
      for a in range(kernel):
        for b in range(kernel):
          oi, oj = stride * i - pad + a, stride * j - pad + b
          if 0 <= oi < out.shape[1] and 0 <= oj < out.shape[2]:
            out[:, oi, oj] += x[:, i, j] @ weight[:, :, a, b]
  return out


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("size,kernel,stride,pad,padding", [(1, 3, 1, 0, "VALID"), (3, 4, 2, 1, "SAME")])
def test_transposed_convs_align_with_gluons(fast, size, kernel, stride, pad, padding):
  assert transpose_padding(kernel, stride, padding) == (kernel - 1 - pad,) * 2
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, size, size, 3)).astype(np.float32)
  weight = rng.normal(size=(3, 8, kernel, kernel)).astype(np.float32)  # Gluon's [C_in, C_out, K, K]
  layer = GluonNetworkConfig(name="gluon", fast_ops="on" if fast else "off").deconv(
    8, (kernel, kernel), stride, padding, "deconv"
  )
  ours = weight[:, :, ::-1, ::-1].transpose(2, 3, 0, 1)  # flipped, HWIO
  y = layer.apply({"params": {"kernel": jnp.asarray(ours)}}, jnp.asarray(x))
  np.testing.assert_allclose(y, gluon_deconv(x, weight, stride, pad), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fast_ops", ["on", "off"])
def test_resnet_max_pool_aligns_with_gluons(fast_ops):
  config = ARCHITECTURES["resnet18_discriminator"].config(fast_ops=fast_ops)
  x = np.random.default_rng(0).normal(size=(1, 8, 8, 2)).astype(np.float32)
  padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
  expected = np.stack(
    [
      np.stack([padded[:, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3].max(axis=(1, 2)) for j in range(4)], 1)
      for i in range(4)
    ],
    1,
  )  # Gluon's MaxPool2D(3, 2, padding=1): floor((8 + 2 - 3) / 2) + 1 = 4 windows from -1
  np.testing.assert_array_equal(config.max_pool_3x3(jnp.asarray(x)), expected)
