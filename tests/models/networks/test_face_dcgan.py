"""models/networks/face_dcgan.py: xuganyu96/VAE-GAN-learnable-loss's face VAE network as its mxnet code builds it:
parameter counts derived layer by layer, and the image shapes it cannot decode."""

import itertools

import jax
import jax.numpy as jnp
import pytest

from dvae_jax.configs import presets
from dvae_jax.errors import ConfigError
from dvae_jax.models import ARCHITECTURES, default_model_config, get_family, model_config
from tests.helpers import FACES, abstract_init, bn_params, bn_stats, conv_params, count, dense_params


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
