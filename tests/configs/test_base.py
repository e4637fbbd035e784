"""configs/base.py: the base config of every family and network validates (and its smoke variant), and a network
field whose default is None is a placeholder the command line can set."""

import os
import subprocess
import sys

import pytest

from dvae_jax import configs
from dvae_jax.local_processes import xla_flags_with_cpu_devices
from tests.helpers import REPO


def test_every_family_and_network_has_a_valid_default():
  from dvae_jax.models import ARCHITECTURES, FAMILIES

  for family in FAMILIES:
    for network in ARCHITECTURES:
      if FAMILIES[family].config.DECODES and ARCHITECTURES[network].decoder is None:
        continue  # a discriminator cannot decode (tests/models/test_vae.py checks the error)
      configs.validate(configs.base_config(family, network))
      configs.validate(configs.apply_variant(configs.base_config(family, network), "smoke"))


def test_every_experiment_default_is_valid():
  configs.validate(configs.base_config())
  configs.validate(configs.apply_variant(configs.base_config(), "smoke"))
  with pytest.raises(configs.ConfigError, match="unknown config variant 'tiny'"):
    configs.apply_variant(configs.base_config(), "tiny")


@pytest.mark.parametrize(
  "override,message",
  [
    ("--config.model.network.code_activation=swish", "config.model.network.code_activation='swish' is not valid"),
    ("--config.model.network.decoder_fc_sizes=(64, 0)", "config.model.network.decoder_fc_sizes=(64, 0) is not valid"),
  ],
)
def test_optional_network_fields_can_be_set_from_the_command_line(override, message, tmp_path):
  """Fields whose default is None are placeholders in the config, so `dvae train` can set them (here
  to a bad value, which the typed config then refuses before any training)."""
  env = {**os.environ, "XLA_FLAGS": xla_flags_with_cpu_devices(1)}
  command = [sys.executable, "-m", "dvae_jax.main", "train", "--config", "experiments/mnist_vae_flax.py"]
  result = subprocess.run(
    [*command, "--workdir", str(tmp_path), override], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
  )
  assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
