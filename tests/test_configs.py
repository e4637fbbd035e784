"""Config validation: every bad value is a ConfigError that names the key and what was expected."""

import pytest

from dvae_jax import configs, train


@pytest.mark.parametrize(
  "path,value,message",
  [
    ("model.family", "gan", "expected one of"),
    ("optim.decay_rate", 2.0, r"expected a value in \(0.0, 1.0\]"),
    ("data.validation_fraction", 0.0, r"expected a value in \(0.0, 1.0\)"),
    ("model.bn_momentum", 1.0, r"expected a value in \[0.0, 1.0\)"),
    ("model.noise_drop_rate", 1.5, r"expected a value in \[0.0, 1.0\)"),
    ("data.train_limit", -5, "expected a positive number"),
    ("optim.min_learning_rate", -1e-5, "expected a non-negative number"),
    ("train.batch_size", 0, "expected a positive number"),
    ("data.binarize", "yes", "expected one of"),
  ],
)
def test_bad_values_are_named(path, value, message):
  config = configs.base_config()
  section, key = path.split(".")
  config[section][key] = value
  with pytest.raises(configs.ConfigError, match=rf"config\.{path}=.*{message}"):
    configs.validate(config)


def test_every_experiment_default_is_valid():
  configs.validate(configs.base_config())
  configs.validate(configs.apply_variant(configs.base_config(), "smoke"))
  with pytest.raises(configs.ConfigError, match="unknown config variant 'tiny'"):
    configs.apply_variant(configs.base_config(), "tiny")


def test_image_shape_must_fit_the_conv_decoder(tiny_config):
  config = tiny_config(model__conv_channels=(8, 8, 8))  # 28 is not divisible by 2**3
  with pytest.raises(configs.ConfigError, match=r"must be divisible by 8\); change config.model.conv_channels"):
    train.build_experiment(config)


def test_more_devices_than_visible(tiny_config):
  with pytest.raises(configs.ConfigError, match="config.num_devices=64 but only"):
    train.build_experiment(tiny_config(num_devices=64))
