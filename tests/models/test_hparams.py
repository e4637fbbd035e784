"""models/hparams.py: a registry's renamed entry (a network's old name) still builds it, with a warning."""

import pytest

from dvae_jax import configs
from dvae_jax.models import ARCHITECTURES
from tests.helpers import hparams


@pytest.mark.parametrize(
  "old,new", [("reference_conv", "dojoteef_conv"), ("face_conv", "dcgan_conv"), ("seed003_conv", "dcgan_conv")]
)
def test_a_network_s_old_name_still_builds_it_with_a_warning(old, new):
  ARCHITECTURES._warned.discard(old)  # it warns once per name and process
  with pytest.warns(FutureWarning, match=f"{old!r} is now called {new!r}"):
    config = hparams("vae", old, data=dict(image_shape=(32, 32, 3), num_classes=10))
  assert config.network.name == new


def test_a_renamed_network_is_accepted_under_its_old_name_with_a_warning():
  from dvae_jax.models import model_config

  config = configs.base_config("ae", "handson_conv")
  config.model.network.name = "seed004_conv"
  with pytest.warns(FutureWarning, match="'seed004_conv' is now called 'handson_conv'"):
    hparams = model_config(config.model, image_shape=(28, 28, 1), num_classes=10)
  assert hparams.network.name == "handson_conv"
