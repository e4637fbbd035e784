"""configs/io.py: `describe` (what `dvae config` prints) and `apply_override` (a script's KEY=VALUE flag)."""

import pytest

from dvae_jax import configs


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


def test_an_override_from_a_script_flag_parses_a_literal_or_keeps_the_string():
  config = configs.load_experiment("mnist_vae_gan")
  configs.apply_override(config, "model.network.fc_sizes=(16,)")
  configs.apply_override(config, "data.path=/tmp/faces")
  assert config.model.network.fc_sizes == (16,) and config.data.path == "/tmp/faces"
  with pytest.raises(configs.ConfigError, match="expected KEY=VALUE"):
    configs.apply_override(config, "model.solo_epochs")
  with pytest.raises(configs.UnknownKeyError, match="did you mean 'solo_epochs'"):
    configs.apply_override(config, "model.solo_epoch=3")
