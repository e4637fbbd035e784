"""data/tfds_source.py: MNIST through TensorFlow Datasets, offline, equals the raw files."""

from __future__ import annotations

import socket

import numpy as np

from dvae_jax.data.sources import load_split
from tests.helpers import MNIST_FILES, SHARED_DATA


def _canonical(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Sorts examples by content, since TFDS stores them in a hashed order."""
  flat = images.reshape(len(images), -1)
  order = np.lexsort(np.concatenate([flat, labels[:, None]], axis=1).T[::-1])
  return images[order], labels[order]


def test_tfds_source_offline_matches_raw(tmp_path, monkeypatch):
  (tmp_path / "mnist").mkdir()
  for name in MNIST_FILES:
    (tmp_path / "mnist" / name).symlink_to(SHARED_DATA / "mnist" / name)

  def no_network(*args, **kwargs):
    raise AssertionError(f"network access attempted: {args}")

  monkeypatch.setattr(socket, "create_connection", no_network)
  monkeypatch.setattr(socket.socket, "connect", no_network)
  via_tfds = load_split("mnist", "test", data_dir=str(tmp_path), source="tfds", download=False)
  raw = load_split("mnist", "test", data_dir=str(tmp_path), download=False)
  assert via_tfds.images.dtype == np.uint8 and via_tfds.labels.dtype == np.int32
  assert via_tfds.images.shape == raw.images.shape
  for a, b in zip(_canonical(via_tfds.images, via_tfds.labels), _canonical(raw.images, raw.labels), strict=True):
    np.testing.assert_array_equal(a, b)
