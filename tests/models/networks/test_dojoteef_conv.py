"""models/networks/dojoteef_conv.py: the reference network's parameter counts (MNIST and CIFAR-10), its batch
norm's affine switch and its kernel initializers."""

import jax
import numpy as np
import pytest

from tests.helpers import count, hparams, init_model

CIFAR_NETWORK = dict(conv_channels=(128, 64), fc_sizes=(512, 256))


# Pinned against a hand count of docs/reference.md (e.g. MNIST encoder: conv 1664 + 102464,
# FC 1204608 + 73920, heads 9650 + 9650 + label 1930; decoder 9792 + 74112 + 1207360 + 102464 + 1601).
@pytest.mark.parametrize(
  "family,dims,expected",
  [
    ("vae", {}, 2_799_215),
    ("dvae", {}, 4_221_808),
    ("vae", {"cifar": True}, 7_067_157),  # encoder 2497554 + decoder 4569603
  ],
)
def test_reference_parameter_counts(family, dims, expected):
  if dims:
    config = hparams(family, net=CIFAR_NETWORK, data=dict(image_shape=(32, 32, 3), num_classes=10), latent_dim=100)
  else:
    config = hparams(family)
  _, _, variables = init_model(config)
  assert count(variables["params"]) == expected
  # Batch norm has running statistics but no trainable scale/offset in the reference.
  assert not any("scale" in str(path) for path, _ in jax.tree_util.tree_leaves_with_path(variables["params"]))


def test_trainable_batch_norm_affine_is_a_switch():
  _, _, frozen = init_model(hparams("vae"))
  _, _, affine = init_model(hparams("vae", net=dict(bn_trainable_affine=True)))
  assert count(affine["params"]) > count(frozen["params"])


@pytest.mark.parametrize(
  "name,std",
  [("xavier_normal", np.sqrt(2 / (3136 + 384))), ("lecun_normal", np.sqrt(1 / 3136)), ("he_normal", np.sqrt(2 / 3136))],
)
def test_kernel_init_is_a_choice(name, std):
  """The encoder's 3136 -> 384 layer: each initializer's weight spread (biases stay zero)."""
  _, _, variables = init_model(hparams("vae", net=dict(kernel_init=name)), abstract=False)
  dense = variables["params"]["inference"]["trunk"]["dense_0"]
  np.testing.assert_allclose(np.std(dense["kernel"]), std, rtol=0.02)
  assert not np.any(dense["bias"])
