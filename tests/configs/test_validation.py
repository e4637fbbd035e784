"""configs/validation.py: every bad value is a ConfigError that names the key and what was expected."""

import re

import pytest

from dvae_jax import configs


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
