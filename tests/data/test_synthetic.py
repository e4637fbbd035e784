"""data/synthetic.py: the synthetic datasets (seeded, class-distinguishable images)."""

from __future__ import annotations

import numpy as np
import pytest

from dvae_jax.data.sources import DATASETS, load_split


@pytest.mark.parametrize("name, shape", [("synthetic", (28, 28, 1)), ("synthetic_rgb", (32, 32, 3))])
def test_synthetic(name, shape):
  train = load_split(name, "train")
  test = load_split(name, "test")
  assert name in DATASETS
  assert train.images.shape == (1024, *shape) and test.images.shape == (256, *shape)
  assert train.images.dtype == np.uint8 and train.labels.dtype == np.int32
  assert set(train.labels.tolist()) == set(range(10)) == set(test.labels.tolist())
  again = load_split(name, "train")
  np.testing.assert_array_equal(train.images, again.images)
  np.testing.assert_array_equal(train.labels, again.labels)
  assert not np.array_equal(train.images[:256], test.images)
  # Classes are distinguishable: per-class mean images differ clearly.
  means = np.stack([train.images[train.labels == k].mean(0) for k in range(10)])
  assert np.abs(means[0] - means[5]).max() > 100
