"""configs/presets.py: the face runs of the learnable-loss experiments as typed records."""

import pytest

from dvae_jax import configs


def test_a_face_run_is_a_typed_record():
  run = configs.presets.FACE_RUNS["conv1024"]
  assert (run.network, run.discriminator, run.latents, run.solo_epochs, run.learning_rate) == (
    "face_dcgan",
    "conv_bn_discriminator",
    1024,
    100,
    2e-4,
  )
  assert run.vae_network(light=True) == "dcgan_conv"
  with pytest.raises(configs.ConfigError, match="has no lighter network; drop the variant 'light'"):
    configs.load_experiment("faces_vae_gan:dense,light")
  # The preset checks that the config was built on the run's network.
  with pytest.raises(configs.ConfigError, match=r"config.model.network.name is 'dcgan_conv'; expected 'face_dcgan'"):
    configs.presets.learnable_loss_face_run(configs.base_config("vae", "dcgan_conv"), run=run)
