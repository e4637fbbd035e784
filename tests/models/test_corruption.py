"""models/corruption.py: the input corruptions' statistics, and each a function of its key."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax.models.corruption import CORRUPTIONS

X = jnp.full((64, 28, 28, 1), 0.5)  # 50,176 pixels at 0.5
KEY = jax.random.key(7)


def corrupt(name: str, **fields) -> np.ndarray:
  return np.asarray(CORRUPTIONS[name](**fields)(KEY, X))


def test_gaussian_noise_std_and_clipping():
  noise = corrupt("gaussian", std=0.2, clip=False) - 0.5
  np.testing.assert_allclose(noise.std(), 0.2, rtol=0.02)
  assert abs(noise.mean()) < 0.005
  clipped = corrupt("gaussian", std=0.5)  # arunarn2/AutoEncoder's noise: x + 0.5 N(0, 1), clipped to [0, 1]
  assert clipped.min() == 0.0 and clipped.max() == 1.0
  # P(0.5 + 0.5 z <= 0) = P(z <= -1) = 0.1587, and the same for 1.
  np.testing.assert_allclose([(clipped == 0).mean(), (clipped == 1).mean()], [0.1587, 0.1587], atol=0.01)


def test_masking_and_dropout_rates():
  masked = corrupt("masking", rate=0.3)
  np.testing.assert_allclose((masked == 0).mean(), 0.3, atol=0.01)
  assert set(np.unique(masked)) == {0.0, 0.5}  # the rest unchanged
  dropped = corrupt("dropout", rate=0.5)  # Keras's Dropout(0.5): the kept pixels are doubled
  np.testing.assert_allclose((dropped == 0).mean(), 0.5, atol=0.01)
  assert set(np.unique(dropped)) == {0.0, 1.0}
  np.testing.assert_allclose(dropped.mean(), 0.5, atol=0.01)  # the expectation is kept


def test_salt_and_pepper_fraction_and_values():
  noisy = corrupt("salt_and_pepper", rate=0.1)
  hit = noisy != 0.5
  np.testing.assert_allclose(hit.mean(), 0.1, atol=0.01)
  assert set(np.unique(noisy[hit])) == {0.0, 1.0}
  np.testing.assert_allclose((noisy[hit] == 1.0).mean(), 0.5, atol=0.03)


@pytest.mark.parametrize(
  "name,fields", [("gaussian", {}), ("masking", {}), ("dropout", {}), ("salt_and_pepper", {"rate": 0.3})]
)
def test_corruption_is_a_function_of_its_key(name, fields):
  corruption = CORRUPTIONS[name](**fields)
  first, again = corruption(KEY, X), corruption(KEY, X)
  other = corruption(jax.random.key(8), X)
  np.testing.assert_array_equal(first, again)
  assert (np.asarray(first) != np.asarray(other)).mean() > 0.05
