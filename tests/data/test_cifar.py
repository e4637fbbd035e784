"""data/cifar.py: CIFAR-10's binary files (label byte, R, G, B planes) decoded through `load_split`, on files the
tests write."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from dvae_jax.data.sources import DataError, download, load_split


def _cifar_records(labels: list[int], seed: int) -> tuple[bytes, np.ndarray]:
  """Returns records with random pixels, and the expected NHWC images."""
  planes = np.random.default_rng(seed).integers(0, 256, (len(labels), 3, 32, 32), dtype=np.uint8)
  raw = b"".join(bytes([label]) + planes[i].tobytes() for i, label in enumerate(labels))
  return raw, planes.transpose(0, 2, 3, 1)


def _write_cifar(directory: pathlib.Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  directory.mkdir(parents=True)
  train_images, train_labels = [], []
  for b in range(1, 6):
    labels = [(b + i) % 10 for i in range(7)]
    raw, images = _cifar_records(labels, seed=b)
    (directory / f"data_batch_{b}.bin").write_bytes(raw)
    train_images.append(images)
    train_labels += labels
  test_labels = [9, 0, 3]
  raw, test_images = _cifar_records(test_labels, seed=0)
  (directory / "test_batch.bin").write_bytes(raw)
  return np.concatenate(train_images), np.array(train_labels), test_images, np.array(test_labels)


@pytest.mark.parametrize("subdir", ["cifar-10-batches-bin", ""])
def test_cifar10_binary_decoding(tmp_path, subdir):
  train_x, train_y, test_x, test_y = _write_cifar(tmp_path / "cifar10" / subdir)
  train = load_split("cifar10", "train", data_dir=str(tmp_path))
  test = load_split("cifar10", "test", data_dir=str(tmp_path))
  assert train.images.shape == (35, 32, 32, 3) and train.images.dtype == np.uint8
  assert train.labels.dtype == np.int32
  np.testing.assert_array_equal(train.images, train_x)
  np.testing.assert_array_equal(train.labels, train_y)
  np.testing.assert_array_equal(test.images, test_x)
  np.testing.assert_array_equal(test.labels, test_y)


def test_cifar10_plane_layout(tmp_path):
  # One record: R plane byte at (row 2, col 5), G at (7, 1), B at (31, 30).
  planes = np.zeros((3, 32, 32), np.uint8)
  planes[0, 2, 5], planes[1, 7, 1], planes[2, 31, 30] = 11, 22, 33
  directory = tmp_path / "cifar10"
  directory.mkdir()
  (directory / "test_batch.bin").write_bytes(bytes([4]) + planes.tobytes())
  image = load_split("cifar10", "test", data_dir=str(tmp_path)).images[0]
  assert image[2, 5, 0] == 11 and image[7, 1, 1] == 22 and image[31, 30, 2] == 33
  assert int(image.sum()) == 66


def test_cifar10_partial_record_is_rejected(tmp_path):
  _write_cifar(tmp_path / "cifar10")
  path = tmp_path / "cifar10" / "test_batch.bin"
  path.write_bytes(path.read_bytes()[:-10])
  with pytest.raises(DataError, match="test_batch.bin"):
    load_split("cifar10", "test", data_dir=str(tmp_path))


def test_cifar10_missing_explains_manual_placement(tmp_path):
  with pytest.raises(DataError, match="binary version"):
    load_split("cifar10", "train", data_dir=str(tmp_path))
  with pytest.raises(DataError, match="not supported"):
    download("cifar10", str(tmp_path))
