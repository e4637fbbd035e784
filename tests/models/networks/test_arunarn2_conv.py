"""models/networks/arunarn2_conv.py: arunarn2/AutoEncoder's conv network: shapes and size."""

import pytest

from dvae_jax.configs import ConfigError
from tests.helpers import ae_config, count, init_and_apply


def test_arunarn2_conv_shapes_and_size():
  """5x5 convs of 64: encoder 1664 + 2 x 102464, decoder conv + 2 deconvs 3 x 102464, logits 1601."""
  variables, outputs = init_and_apply(ae_config("arunarn2_conv"))
  assert outputs["code"].shape == (3, 7 * 7 * 64)
  assert outputs["logits"].shape == (1, 3, 28, 28, 1)
  assert count(variables["params"]) == 1664 + 5 * 102464 + 1601
  assert "dense_0" not in variables["params"]["generator"]  # the code is the encoder's own 7x7x64 grid
  # Any size divisible by 4; a latent code of another size is mapped to the grid by a dense layer.
  config = ae_config("arunarn2_conv", net={"channels": 4}, data=dict(image_shape=(12, 8, 3), num_classes=2))
  assert init_and_apply(config)[1]["logits"].shape == (1, 3, 12, 8, 3)
  with pytest.raises(ConfigError, match=r"two 2x2 max-pools, so height and width must be divisible by 4"):
    ae_config("arunarn2_conv", data=dict(image_shape=(30, 30, 1), num_classes=2))
