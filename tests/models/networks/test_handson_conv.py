"""models/networks/handson_conv.py: Hands-On ML's conv autoencoder network: shapes and size (Keras's summary)."""

import pytest

from dvae_jax.configs import ConfigError
from tests.helpers import ae_config, count, init_and_apply


def test_handson_conv_shapes_and_size():
  """Encoder 160 + 4640 + 18496 + 17310, decoder 4464 + 4640 + 4624 + 145 (Keras's summary)."""
  variables, outputs = init_and_apply(ae_config("handson_conv"))
  assert outputs["code"].shape == (3, 30)
  assert outputs["logits"].shape == (1, 3, 28, 28, 1)
  assert count(variables["params"]["encoder"]) == 40_606
  assert count(variables["params"]["generator"]) == 13_873
  config = ae_config("handson_conv", net={"conv_channels": (2, 3, 4), "code_size": 5, "decoder_channels": (6, 7, 8)})
  _, outputs = init_and_apply(config)
  assert outputs["code"].shape == (3, 5) and outputs["logits"].shape == (1, 3, 28, 28, 1)
  with pytest.raises(ConfigError, match=r"images must be 28x28"):
    ae_config("handson_conv", data=dict(image_shape=(32, 32, 3), num_classes=10))
  with pytest.raises(ConfigError, match=r"config.model.network.conv_channels=\(16, 32\) is not valid; expected 3"):
    ae_config("handson_conv", net={"conv_channels": (16, 32)})
