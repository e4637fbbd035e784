"""data/idx.py: the real MNIST and Fashion-MNIST IDX files read through `load_split`, their digests checked (and
cached per file version), damaged files refused."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from dvae_jax.data.sources import DataError, load_split
from tests.helpers import MNIST_TEST_COUNTS, SHARED_DATA, copy_mnist

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_mnist_train_and_test():
  train = load_split("mnist", "train", data_dir=str(SHARED_DATA), download=False)
  test = load_split("mnist", "test", data_dir=str(SHARED_DATA), download=False)
  assert train.images.shape == (60000, 28, 28, 1) and test.images.shape == (10000, 28, 28, 1)
  assert train.images.dtype == np.uint8 and train.labels.dtype == np.int32
  assert train.labels[:5].tolist() == [5, 0, 4, 1, 9]
  assert np.bincount(train.labels).tolist() == MNIST_TRAIN_COUNTS
  assert np.bincount(test.labels).tolist() == MNIST_TEST_COUNTS
  assert train.images.min() == 0 and train.images.max() == 255


def test_fashion_mnist_test():
  test = load_split("fashion_mnist", "test", data_dir=str(SHARED_DATA), download=False)
  assert test.images.shape == (10000, 28, 28, 1) and test.images.dtype == np.uint8
  assert test.labels.dtype == np.int32
  assert np.bincount(test.labels).tolist() == [1000] * 10
  assert test.images.min() == 0 and test.images.max() == 255


def test_sha256_is_cached_per_file_version(tmp_path, monkeypatch):
  from dvae_jax.data import idx  # pylint: disable=import-outside-toplevel

  copy_mnist(tmp_path)
  load_split("mnist", "test", data_dir=str(tmp_path), download=False)
  calls = []
  real_sha256 = hashlib.sha256
  monkeypatch.setattr(idx.hashlib, "sha256", lambda: calls.append(1) or real_sha256())
  load_split("mnist", "test", data_dir=str(tmp_path), download=False)
  assert not calls
  # Rewriting a file changes its mtime, so it is hashed again.
  path = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
  path.write_bytes(path.read_bytes())
  load_split("mnist", "test", data_dir=str(tmp_path), download=False)
  assert len(calls) == 1


def test_corrupt_file_is_rejected(tmp_path):
  path = copy_mnist(tmp_path) / "t10k-labels-idx1-ubyte.gz"
  data = bytearray(path.read_bytes())
  data[100] ^= 0xFF
  path.write_bytes(bytes(data))
  with pytest.raises(DataError, match="sha256") as e:
    load_split("mnist", "test", data_dir=str(tmp_path), download=False)
  assert path.name in str(e.value) and "dvae data download mnist" in str(e.value)


def test_truncated_file_is_rejected(tmp_path):
  path = copy_mnist(tmp_path) / "t10k-images-idx3-ubyte.gz"
  path.write_bytes(path.read_bytes()[:5000])
  with pytest.raises(DataError, match="truncated") as e:
    load_split("mnist", "test", data_dir=str(tmp_path), download=False)
  assert "5000 bytes" in str(e.value)
