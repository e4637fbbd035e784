"""Config validation: every bad value is a ConfigError that names the key and what was expected."""

import re

import numpy as np
import pytest

from dvae_jax import configs
from dvae_jax.experiment import build_experiment
from dvae_jax.optimizers import make_schedule


@pytest.mark.parametrize(
  "path,value,message",
  [
    ("model.family", "gan", "expected one of"),
    ("optim.decay_rate", 2.0, r"expected a value in \(0.0, 1.0\)"),
    ("optim.decay_rate", 1.0, "does not decay.*--config.optim.schedule=constant"),
    ("optim.min_learning_rate", 0.5, "is above config.optim.learning_rate=0.01; expected a floor"),
    ("optim.schedule", "cosine", "expected one of"),
    ("model.network.kernel_init", "orthogonal", "expected one of"),
    ("model.network.name", "resnet", "unknown network 'resnet'; expected one of"),
    ("model.network.conv_channels", (), "expected a non-empty tuple of positive integers"),
    ("model.prior.name", "uniform", "unknown prior 'uniform'; expected one of"),
    ("model.sample_mode", "iwae", "expected one of"),
    ("model.samples", 0, "expected a positive number"),
    ("data.path", "/tmp/x.npz", "expected a path to an .npz file exactly when data.name is 'npz'"),
    ("data.name", "npz", "expected a path to an .npz file exactly when data.name is 'npz'"),
    ("data.validation_fraction", -0.1, r"expected a value in \[0.0, 1.0\)"),
    ("model.network.bn_momentum", 1.0, r"expected a value in \[0.0, 1.0\)"),
    ("data.train_limit", -5, "expected a positive number"),
    ("optim.min_learning_rate", -1e-5, "expected a non-negative number"),
    ("train.batch_size", 0, "expected a positive number"),
    ("data.binarize", "yes", "expected one of"),
    ("data.on_device", "yes", r"expected 'auto' \(the training split on the devices when .*\), True .* or False"),
    ("data.on_device", 1, r"expected 'auto' .*, True \(on the devices\) or False \(batches gathered on the host\)"),
    ("data.on_device", None, "expected 'auto'"),
  ],
)
def test_bad_values_are_named(path, value, message):
  config = configs.base_config()
  *sections, key = path.split(".")
  target = config
  for section in sections:
    target = target[section]
  target[key] = value
  with pytest.raises(configs.ConfigError, match=rf"config\.{re.escape(path)}\b.*{message}"):
    configs.validate(config)


@pytest.mark.parametrize(
  "family,network,key,message",
  [
    ("vae", None, "noise_std", r"config.model has a key \['noise_std'\] that VAEConfig does not read; its keys are"),
    ("ae", "mlp", "samples", r"config.model has a key \['samples'\] that AEConfig does not read"),
  ],
)
def test_a_key_the_family_does_not_read_is_an_error(family, network, key, message):
  config = configs.base_config(family, network)
  config.model[key] = 1.0
  with pytest.raises(configs.ConfigError, match=message):
    configs.validate(config)


def test_a_key_the_network_does_not_read_is_an_error():
  config = configs.base_config("vae", "mlp")
  config.model.network.conv_channels = (8, 8)
  with pytest.raises(configs.ConfigError, match=r"config.model.network has a key \['conv_channels'\] that MLPConfig"):
    configs.validate(config)


def test_every_family_and_network_has_a_valid_default():
  from dvae_jax.models import ARCHITECTURES, FAMILIES

  for family in FAMILIES:
    for network in ARCHITECTURES:
      if FAMILIES[family].config.DECODES and ARCHITECTURES[network].decoder is None:
        continue  # a discriminator cannot decode (test_vae_gan checks the error)
      configs.validate(configs.base_config(family, network))
      configs.validate(configs.apply_variant(configs.base_config(family, network), "smoke"))


def test_every_experiment_default_is_valid():
  configs.validate(configs.base_config())
  configs.validate(configs.apply_variant(configs.base_config(), "smoke"))
  with pytest.raises(configs.ConfigError, match="unknown config variant 'tiny'"):
    configs.apply_variant(configs.base_config(), "tiny")


def test_image_shape_must_fit_the_conv_decoder(tiny_config):
  config = tiny_config(model__network__conv_channels=(8, 8, 8))  # 28 is not divisible by 2**3
  with pytest.raises(configs.ConfigError, match=r"must be divisible by 8\); change config.model.network"):
    build_experiment(config)


def test_more_devices_than_visible(tiny_config):
  with pytest.raises(configs.ConfigError, match="config.num_devices=64 but only"):
    build_experiment(tiny_config(num_devices=64))


def _schedule(**optim):
  config = configs.base_config()
  config.optim.update(optim)
  configs.validate(config)
  schedule = make_schedule(config.optim, steps_per_epoch=10)
  return [float(schedule(step)) for step in (0, 9, 10, 19, 20, 35, 1000)]


def test_learning_rate_schedules_at_known_steps():
  # 10 steps per epoch, decay every 1 epoch (10 steps).
  common = dict(learning_rate=1e-2, decay_epochs=1, decay_rate=0.5, min_learning_rate=1e-3)
  np.testing.assert_allclose(
    _schedule(schedule="staircase", **common), [1e-2, 1e-2, 5e-3, 5e-3, 2.5e-3, 1.25e-3, 1e-3], rtol=1e-6
  )
  smooth = [max(1e-2 * 0.5 ** (step / 10), 1e-3) for step in (0, 9, 10, 19, 20, 35, 1000)]
  np.testing.assert_allclose(_schedule(schedule="exponential", **common), smooth, rtol=1e-5)
  # A constant schedule ignores the decay keys, whatever they hold (decay_rate 1.0 included).
  constant = _schedule(schedule="constant", learning_rate=1e-3, decay_rate=1.0, min_learning_rate=0.0)
  np.testing.assert_allclose(constant, [1e-3] * 7, rtol=1e-7)
  # The floor is a floor: a run whose floor equals its rate stays at that rate.
  np.testing.assert_allclose(_schedule(schedule="staircase", learning_rate=1e-3, min_learning_rate=1e-3), [1e-3] * 7)


def test_reference_schedule_is_unchanged():
  """lr 0.01, x0.1 every 50 epochs, floor 1e-5 (docs/reference.md), in 843-step epochs."""
  schedule = make_schedule(configs.base_config().optim, steps_per_epoch=843)
  values = [float(schedule(epoch * 843)) for epoch in (0, 49, 50, 100, 150, 200, 249)]
  np.testing.assert_allclose(values, [1e-2, 1e-2, 1e-3, 1e-4, 1e-5, 1e-5, 1e-5], rtol=1e-5)


def _image_folder_config(**data):
  config = configs.base_config()
  config.data.update({"name": "image_folder", "path": "/tmp/faces", "invert": False, **data})
  return config


def test_image_folder_config_is_valid():
  configs.validate(_image_folder_config())
  configs.validate(_image_folder_config(image_size=28, image_channels=1, center_crop=True, resize_filter="area"))


@pytest.mark.parametrize(
  "key,value,message",
  [
    ("image_size", 0, "expected a positive integer"),
    ("image_channels", 2, r"expected one of \[1, 3\]"),
    ("resize_filter", "bicubic", r"expected one of \['area', 'lanczos'\]"),
    ("test_fraction", 1.0, r"expected a value in \(0.0, 1.0\)"),
    ("test_fraction", 0.0, r"expected a value in \(0.0, 1.0\)"),
    ("split_seed", -1, "expected a non-negative number"),
    ("invert", True, "with config.data.name='image_folder': expected False.*--config.data.invert=False"),
    ("path", None, "expected a path to an .npz file exactly when data.name is 'npz', or to a folder of images"),
  ],
)
def test_bad_image_folder_values_are_named(key, value, message):
  config = _image_folder_config(**{key: value})
  with pytest.raises(configs.ConfigError, match=rf"config\.data\.{key}\b.*{message}"):
    configs.validate(config)


def test_load_experiment_by_name_path_and_variant():
  by_name = configs.load_experiment("mnist_vae:smoke")
  by_path = configs.load_experiment("experiments/mnist_vae.py", "smoke")
  assert by_name.to_dict() == by_path.to_dict()
  assert by_name.train.num_epochs == 2 and configs.load_experiment("mnist_vae").train.num_epochs == 250
  # An explicit variant wins over the one in the spec.
  assert configs.load_experiment("mnist_vae:smoke", "cpu").train.num_epochs == 2
  assert configs.load_experiment("mnist_vae:smoke", "cpu").data.train_limit == 27_000


def test_an_unknown_experiment_names_the_files_tried():
  with pytest.raises(configs.ConfigError, match=r"no experiment config 'mnist_vea': tried experiments/mnist_vea\.py, "):
    configs.load_experiment("mnist_vea")
  with pytest.raises(configs.ConfigError, match=r"tried /nowhere/x\.py\. Expected a path"):
    configs.load_experiment("/nowhere/x.py")


def test_an_unknown_experiment_names_the_nearest_ones():
  with pytest.raises(
    configs.ConfigError, match=r"\(mnist_vae\)\. Did you mean 'mnist_vae'[,? ].* Nothing was loaded\.$"
  ):
    configs.load_experiment("mnist_vea:smoke")
  with pytest.raises(configs.ConfigError, match=r"Did you mean 'mnist_dvae\.py'.* in experiments\? Nothing was loaded"):
    configs.load_experiment("experiments/mnist_dvea.py")
  # Nothing near: every experiment is listed.
  with pytest.raises(configs.ConfigError, match=r"The experiments: cifar10_classifier, .*, mnist_vae, .*\. Nothing"):
    configs.load_experiment("zzzz")


def test_a_misspelt_variant_names_the_nearest_ones():
  with pytest.raises(configs.ConfigError, match=r"unknown config variant 'smok' \(did you mean 'smoke'\?\); valid"):
    configs.load_experiment("mnist_vae:smok")
  with pytest.raises(configs.ConfigError, match=r"variant 'fashon' \(did you mean 'fashion'\?\) in 'l2,fashon'; expe"):
    configs.load_experiment("mnist_dense_vae:l2,fashon")
  with pytest.raises(configs.ConfigError, match=r"'smok' \(did you mean 'smoke'\?\) in 'l2,smok'; expected names"):
    configs.load_experiment("mnist_dense_vae:l2,smok")


def test_describe_prints_every_key_or_what_differs_from_the_base_config():
  config = configs.load_experiment("faces_vae_gan:conv1024")
  lines = configs.describe(config).splitlines()
  assert "model.latent_dim = 1024" in lines and "seed = 0" in lines and "data.path = None" in lines
  assert len(lines) == len(configs.io._entries(config.to_dict()))  # every key, once
  diff = configs.describe(config, diff=True).splitlines()
  assert diff[0] == "# what differs from configs.base_config('vae_gan', 'face_dcgan')"
  assert "model.latent_dim = 1024  # base: 50" in diff
  assert "model.discriminator.base_channels = 64  # not in the base config" in diff  # another discriminator's key
  assert "model.discriminator.hidden_sizes: not in this config  # base: (200,)" in diff
  assert not any(line.startswith("seed") for line in diff)
  assert configs.describe(configs.base_config("vae_gan", "face_dcgan"), diff=True).splitlines() == diff[:1]
  with pytest.raises(configs.ConfigError, match="no config to describe"):
    configs.describe(None)


def test_experiments_share_builders_through_the_package_not_each_other():
  """No experiment file loads a sibling (importlib, runpy, exec of another path)."""
  from tests.helpers import REPO

  for path in (REPO / "experiments").glob("*.py"):
    text = path.read_text()
    assert not re.search(r"importlib|runpy|exec\(|with_name\(", text), path


def test_a_renamed_network_is_accepted_under_its_old_name_with_a_warning():
  from dvae_jax.models import model_config

  config = configs.base_config("ae", "handson_conv")
  config.model.network.name = "seed004_conv"
  with pytest.warns(FutureWarning, match="'seed004_conv' is now called 'handson_conv'"):
    hparams = model_config(config.model, image_shape=(28, 28, 1), num_classes=10)
  assert hparams.network.name == "handson_conv"


def test_an_override_from_a_script_flag_parses_a_literal_or_keeps_the_string():
  config = configs.load_experiment("mnist_vae_gan")
  configs.apply_override(config, "model.network.fc_sizes=(16,)")
  configs.apply_override(config, "data.path=/tmp/faces")
  assert config.model.network.fc_sizes == (16,) and config.data.path == "/tmp/faces"
  with pytest.raises(configs.ConfigError, match="expected KEY=VALUE"):
    configs.apply_override(config, "model.solo_epochs")
  with pytest.raises(configs.UnknownKeyError, match="did you mean 'solo_epochs'"):
    configs.apply_override(config, "model.solo_epoch=3")
