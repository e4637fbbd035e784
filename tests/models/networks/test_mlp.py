"""models/networks/mlp.py: the MLP's code activation and decoder sizes."""

import jax
import numpy as np
import pytest

from dvae_jax.configs import ConfigError
from tests.helpers import ae_config, init_and_apply


def test_mlp_code_activation_and_decoder_sizes():
  """Hands-On ML's 784-100-300 sigmoid code and 300-100-784 decoder; the defaults are unchanged."""
  config = ae_config(net={"fc_sizes": (100, 300), "code_activation": "sigmoid", "decoder_fc_sizes": (100,)})
  variables, outputs = init_and_apply(config, abstract=False)
  code = np.asarray(outputs["code"])
  assert code.shape == (3, 300) and code.min() > 0.0 and code.max() < 1.0
  shapes = jax.tree.map(lambda p: p.shape, variables["params"])
  assert shapes["encoder"]["dense_0"]["kernel"] == (784, 100)
  assert shapes["generator"] == {
    "dense_0": {"kernel": (300, 100), "bias": (100,)},
    "dense_1": {"kernel": (100, 784), "bias": (784,)},
  }
  # By default the decoder mirrors the encoder, as before these fields existed.
  variables, _ = init_and_apply(ae_config(net={"fc_sizes": (100, 30)}))
  kernels = {name: layer["kernel"].shape for name, layer in variables["params"]["generator"].items()}
  assert kernels == {"dense_0": (30, 30), "dense_1": (30, 100), "dense_2": (100, 784)}
  with pytest.raises(ConfigError, match=r"code_activation='swish' is not valid"):
    ae_config(net={"code_activation": "swish"})
