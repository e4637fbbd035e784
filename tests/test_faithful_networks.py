"""The networks of xuganyu96/VAE-GAN-learnable-loss as its mxnet code builds them (face_dcgan.py,
xuganyu96_discriminators.py): parameter counts derived layer by layer, shapes, a train step with batch
norm, and the Gluon alignment of the transposed convs and the padded max-pool against numpy."""

import itertools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax.configs import presets
from dvae_jax.errors import ConfigError
from dvae_jax.models import ARCHITECTURES, default_model_config, get_family, model_config
from dvae_jax.models.networks import NetworkConfig
from dvae_jax.models.networks.gluon_layers import GluonNetworkConfig
from dvae_jax.ops.conv_transpose import transpose_padding

FACES = (64, 64, 3)


def conv_params(kernel: int, c_in: int, c_out: int, *, bias: bool) -> int:
  return kernel * kernel * c_in * c_out + (c_out if bias else 0)


def dense_params(f_in: int, f_out: int) -> int:
  return f_in * f_out + f_out


def bn_params(channels: int) -> int:
  return 2 * channels  # trainable scale (gamma) and offset (beta)


def bn_stats(channels: int) -> int:
  return 2 * channels  # running mean and variance


def count(tree) -> int:
  return sum(leaf.size for leaf in jax.tree.leaves(tree))


def abstract_init(module, *inputs, rngs=None):
  """The variables' shapes, without computing (or allocating) them."""
  rngs = rngs or jax.random.key(0)
  return jax.eval_shape(lambda: module.init(rngs, *inputs, train=False))


def encoder(name: str, **fields):
  return ARCHITECTURES[name].encoder(ARCHITECTURES[name].config(**fields))


# mxnet's collect_params() also lists batch norm's running mean and variance, so the original's
# parameter total is the sum of the trainable count ('params') and the statistics ('batch_stats').


def test_face_vae_parameter_count_in_the_vae_family():
  section = default_model_config("vae", "face_dcgan")
  section.update(latent_dim=512, label_head=False)
  config = model_config(section, image_shape=FACES, num_classes=1)
  model = get_family("vae").module(config)
  rngs = {"params": jax.random.key(0), "reparam": jax.random.key(1)}
  variables = abstract_init(model, jnp.zeros((2, *FACES)), rngs=rngs)
  z = 512
  features = 58 * 58 * 64  # 64 -> 61 -> 58 after two VALID 4x4 convs
  assert features == 215_296
  encoder_params = (
    conv_params(4, 3, 32, bias=False) + bn_params(32) + conv_params(4, 32, 64, bias=False) + bn_params(64)
  )
  # The mean and log-variance heads are together the original's Dense(2 z), without its batch norm.
  heads = 2 * dense_params(features, z)
  assert heads == dense_params(features, 2 * z)
  widths = (z, 256, 128, 64, 32)
  decoder_params = sum(
    conv_params(4, c_in, c_out, bias=False) + bn_params(c_out) for c_in, c_out in itertools.pairwise(widths)
  )
  decoder_params += conv_params(4, 32, 3, bias=False)
  params, stats = variables["params"], variables["batch_stats"]
  assert count(params["inference"]["trunk"]) == encoder_params == 34_496
  assert count(params["inference"]["mean"]) + count(params["inference"]["logvar"]) == heads == 220_464_128
  assert count(params["generator"]) == decoder_params == 2_787_776
  assert count(params) == encoder_params + heads + decoder_params == 223_286_400
  assert count(stats) == bn_stats(32 + 64) + bn_stats(256 + 128 + 64 + 32) == 1_152


def test_face_vae_parameter_count_with_the_originals_posterior_head():
  """The conv VAE of the original's train_ConvVAE_on_anime.py (ConvVAE(n_latent=512, n_base_channels=32) on
  64 x 64 RGB faces, its results folder ConvVAE_on_anime/512_32_200) with its head, Dense(2 z) -> BatchNorm ->
  ReLU (model.posterior_head="dense_bn_relu"): 223,288,448 trainable parameters and 3,200 batch-norm
  statistics, the head's batch norm adding 2 x 2 z of each to the plain heads' counts above."""
  section = default_model_config("vae", "face_dcgan")
  section.update(latent_dim=512, label_head=False, posterior_head="dense_bn_relu")
  config = model_config(section, image_shape=FACES, num_classes=1)
  model = get_family("vae").module(config)
  rngs = {"params": jax.random.key(0), "reparam": jax.random.key(1)}
  variables = abstract_init(model, jnp.zeros((2, *FACES)), rngs=rngs)
  z = 512
  params, stats = variables["params"], variables["batch_stats"]
  head_params = {name: count(params["inference"][name]) for name in ("mean", "logvar", "bn_mean", "bn_logvar")}
  assert head_params == {"mean": 110_232_064, "logvar": 110_232_064, "bn_mean": 1_024, "bn_logvar": 1_024}
  assert sum(head_params.values()) == dense_params(58 * 58 * 64, 2 * z) + bn_params(2 * z)
  assert count(params) == 223_286_400 + bn_params(2 * z) == 223_288_448
  assert count(stats) == 1_152 + bn_stats(2 * z) == 3_200


def test_deep_face_decoder_parameter_count():
  """At the deep run's z = 1024 (DeepConvVAE_DeepConvDisc_on_anime/1024_32_64_200_10_1_initlr2e-4)."""
  z = presets.FACE_RUNS["deep"].latents
  assert z == 1024
  config = ARCHITECTURES["face_dcgan"].config(decoder_channels=(512, 256, 128, 64))
  decoder = ARCHITECTURES["face_dcgan"].decoder(config, FACES)
  variables = abstract_init(decoder, jnp.zeros((2, z)))
  widths = (z, 512, 256, 128, 64)
  expected = sum(
    conv_params(4, c_in, c_out, bias=False) + bn_params(c_out) for c_in, c_out in itertools.pairwise(widths)
  )
  expected += conv_params(4, 64, 3, bias=False)
  assert count(variables["params"]) == expected == 11_146_112
  assert count(variables["batch_stats"]) == bn_stats(512 + 256 + 128 + 64) == 1_920


def conv_bn_discriminator_counts(base: int, stages: int) -> tuple[int, int]:
  widths = [3] + [base * 2**i for i in range(stages)]
  params = sum(conv_params(4, c_in, c_out, bias=False) for c_in, c_out in itertools.pairwise(widths))
  params += sum(bn_params(c) for c in widths[2:])  # batch norm on every stage but the first
  return params, sum(bn_stats(c) for c in widths[2:])


def resnet18_counts(base: int) -> tuple[int, int]:
  params, stats = conv_params(7, 3, base, bias=True) + bn_params(base), bn_stats(base)
  c_in = base
  for i in range(4):
    width = base * 2**i
    for block in range(2):
      params += conv_params(3, c_in, width, bias=True) + conv_params(3, width, width, bias=True)
      params += 2 * bn_params(width)
      stats += 2 * bn_stats(width)
      if i > 0 and block == 0:
        params += conv_params(1, c_in, width, bias=True)  # the 1x1 conv shortcut
      c_in = width
  return params, stats


@pytest.mark.parametrize(
  "name,expected",
  [
    ("conv_bn_discriminator", (165_760, 384)),
    ("deep_conv_bn_discriminator", (2_757_376, 1_792)),
    ("resnet18_discriminator", (11_179_520, 7_808)),
  ],
)
def test_discriminator_parameter_counts(name, expected):
  derived = {
    "conv_bn_discriminator": conv_bn_discriminator_counts(32, 3),
    "deep_conv_bn_discriminator": conv_bn_discriminator_counts(64, 4),
    "resnet18_discriminator": resnet18_counts(64),
  }[name]
  variables = abstract_init(encoder(name), jnp.zeros((2, *FACES)))
  assert (count(variables["params"]), count(variables["batch_stats"])) == derived == expected


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


def test_image_shapes_the_face_network_cannot_decode():
  config = ARCHITECTURES["face_dcgan"].config()
  config.check_image_shape(FACES)
  with pytest.raises(ConfigError, match=r"\(60, 60, 3\) cannot be decoded .* must be divisible by 16"):
    config.check_image_shape((60, 60, 3))
  smoke = ARCHITECTURES["face_dcgan"].config(**ARCHITECTURES["face_dcgan"].config.SMOKE)
  smoke.check_image_shape((28, 28, 1))
  with pytest.raises(ConfigError, match=r"too small .* at least 7"):
    smoke.check_image_shape((4, 4, 1))
  with pytest.raises(
    ConfigError, match=r"\(28, 28, 1\) cannot be decoded by the .face_dcgan. network.* divisible by 16"
  ):
    model_config({"family": "vae", "network": {"name": "face_dcgan"}}, image_shape=(28, 28, 1), num_classes=10)


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
