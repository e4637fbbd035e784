"""Tests for dvae_jax.data.sources against the real MNIST / Fashion-MNIST files."""

from __future__ import annotations

import hashlib
import pathlib
import shutil
import socket

import numpy as np
import pytest

from dvae_jax.data.sources import DATASETS, DataError, download, load_split, resolve_data_dir
from tests.helpers import SHARED_DATA

MNIST_FILES = (
  "train-images-idx3-ubyte.gz",
  "train-labels-idx1-ubyte.gz",
  "t10k-images-idx3-ubyte.gz",
  "t10k-labels-idx1-ubyte.gz",
)
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _official_sha256() -> dict[str, str]:
  """The official files' digests: the data folder's SHA256SUMS (an independent record) where it has
  one (../shared/data does), else the ones dvae-jax checks downloads against."""
  if not (SHARED_DATA / "SHA256SUMS").is_file():
    from dvae_jax.data.idx import IDX_FILES

    return {f"{name}/{file}": digest for name, files in IDX_FILES.items() for file, (_, digest) in files.items()}
  sums = {}
  for line in (SHARED_DATA / "SHA256SUMS").read_text().splitlines():
    digest, rel = line.split()
    sums[rel] = digest
  return sums


@pytest.fixture(scope="module", autouse=True)
def _require_shared_data():
  if not (SHARED_DATA / "mnist" / MNIST_FILES[0]).is_file():
    pytest.fail(
      f"Shared datasets not found at {SHARED_DATA}: these tests need the real MNIST files "
      "in $DVAE_DATA_DIR or ../shared/data beside the repo checkout (`dvae data download mnist`)."
    )


def _sha256(path: pathlib.Path) -> str:
  return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- raw IDX


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

  _copy_mnist(tmp_path)
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


def test_data_dir_resolution(monkeypatch, tmp_path):
  monkeypatch.setenv("DVAE_DATA_DIR", str(tmp_path))
  assert resolve_data_dir("/x") == pathlib.Path("/x")
  assert resolve_data_dir(None) == tmp_path
  assert resolve_data_dir("") == tmp_path
  monkeypatch.delenv("DVAE_DATA_DIR")
  assert resolve_data_dir(None) == pathlib.Path.home() / ".cache" / "dvae_jax" / "data"


def _copy_mnist(dest_root: pathlib.Path) -> pathlib.Path:
  dest = dest_root / "mnist"
  dest.mkdir(parents=True)
  for name in MNIST_FILES:
    shutil.copyfile(SHARED_DATA / "mnist" / name, dest / name)
  return dest


def test_corrupt_file_is_rejected(tmp_path):
  path = _copy_mnist(tmp_path) / "t10k-labels-idx1-ubyte.gz"
  data = bytearray(path.read_bytes())
  data[100] ^= 0xFF
  path.write_bytes(bytes(data))
  with pytest.raises(DataError, match="sha256") as e:
    load_split("mnist", "test", data_dir=str(tmp_path), download=False)
  assert path.name in str(e.value) and "dvae data download mnist" in str(e.value)


def test_truncated_file_is_rejected(tmp_path):
  path = _copy_mnist(tmp_path) / "t10k-images-idx3-ubyte.gz"
  path.write_bytes(path.read_bytes()[:5000])
  with pytest.raises(DataError, match="truncated") as e:
    load_split("mnist", "test", data_dir=str(tmp_path), download=False)
  assert "5000 bytes" in str(e.value)


def test_missing_files_without_download(tmp_path):
  with pytest.raises(DataError) as e:
    load_split("mnist", "test", data_dir=str(tmp_path), download=False)
  msg = str(e.value)
  assert "t10k-images-idx3-ubyte.gz" in msg and "t10k-labels-idx1-ubyte.gz" in msg
  assert "dvae data download mnist" in msg and str(tmp_path / "mnist") in msg


@pytest.mark.parametrize(
  "kwargs, word",
  [
    (dict(name="svhn", split="train"), "mnist"),
    (dict(name="mnist", split="valid"), "test"),
    (dict(name="mnist", split="test", source="hub"), "tfds"),
  ],
)
def test_unknown_arguments_list_valid_choices(kwargs, word):
  with pytest.raises(DataError, match=word):
    load_split(**kwargs)


# ---------------------------------------------------------------- CIFAR-10


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


# ---------------------------------------------------------------- synthetic


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


# ---------------------------------------------------------------- download


@pytest.fixture
def bad_mirror_dir(tmp_path):
  """A mirror whose copy of every MNIST file has one flipped byte."""
  directory = tmp_path / "bad_mirror"
  directory.mkdir()
  for name in MNIST_FILES:
    data = bytearray((SHARED_DATA / "mnist" / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (directory / name).write_bytes(bytes(data))
  return directory


def test_download_from_mirror(tmp_path, serve):
  paths = download("mnist", str(tmp_path / "data"), mirrors=[serve(SHARED_DATA / "mnist")])
  sums = _official_sha256()
  assert sorted(p.name for p in paths) == sorted(MNIST_FILES)
  for p in paths:
    assert p.parent == tmp_path / "data" / "mnist" and _sha256(p) == sums[f"mnist/{p.name}"]
  assert sorted(p.name for p in (tmp_path / "data" / "mnist").iterdir()) == sorted(MNIST_FILES)
  # Already present and verified: a dead mirror is never contacted.
  assert download("mnist", str(tmp_path / "data"), mirrors=["http://127.0.0.1:9/"]) == paths


def test_download_falls_back_after_bad_mirror(tmp_path, serve, bad_mirror_dir):
  mirrors = [serve(bad_mirror_dir), serve(SHARED_DATA / "mnist")]
  paths = download("mnist", str(tmp_path / "data"), mirrors=mirrors)
  sums = _official_sha256()
  assert all(_sha256(p) == sums[f"mnist/{p.name}"] for p in paths)


def test_download_with_only_bad_mirror_fails_cleanly(tmp_path, serve, bad_mirror_dir):
  bad = serve(bad_mirror_dir)
  with pytest.raises(DataError) as e:
    download("mnist", str(tmp_path / "data"), mirrors=[bad, "http://127.0.0.1:9/"])
  assert bad in str(e.value) and "sha256" in str(e.value) and "127.0.0.1:9" in str(e.value)
  assert not (tmp_path / "data").exists()  # neither the data dir nor mnist/ in it


def test_a_wrong_data_dir_is_left_as_it_was_when_the_download_fails(tmp_path, monkeypatch):
  """--config.data.dir=<an existing folder without mnist/>, offline: no empty mnist/ is left there."""
  wrong = tmp_path / "wrong"
  (wrong / "notes").mkdir(parents=True)
  monkeypatch.setenv("DVAE_MNIST_MIRRORS", "http://127.0.0.1:1/")  # nothing listens on port 1
  with pytest.raises(DataError, match=r"downloading them failed.*Nothing was written to .*wrong/mnist"):
    load_split("mnist", "train", data_dir=str(wrong))
  assert [p.name for p in wrong.iterdir()] == ["notes"] and not any((wrong / "notes").iterdir())


def test_a_download_that_fails_midway_keeps_none_of_its_files(tmp_path, serve):
  """Two of the four files fetched, the third on no mirror: nothing is moved in, no folder is made."""
  partial = tmp_path / "partial_mirror"
  partial.mkdir()
  for name in MNIST_FILES[:2]:
    shutil.copyfile(SHARED_DATA / "mnist" / name, partial / name)
  with pytest.raises(DataError, match=MNIST_FILES[2]):
    download("mnist", str(tmp_path / "data"), mirrors=[serve(partial)])
  assert not (tmp_path / "data").exists()


def test_a_download_into_a_partly_filled_folder_fetches_only_the_missing_files(tmp_path, serve):
  """Files already there and verified stay (same inode); only the missing ones arrive, after all are fetched."""
  directory = _copy_mnist(tmp_path / "data")
  (directory / MNIST_FILES[3]).unlink()
  kept = (directory / MNIST_FILES[0]).stat().st_ino
  paths = download("mnist", str(tmp_path / "data"), mirrors=[serve(SHARED_DATA / "mnist")])
  sums = _official_sha256()
  assert all(_sha256(p) == sums[f"mnist/{p.name}"] for p in paths)
  assert (directory / MNIST_FILES[0]).stat().st_ino == kept
  assert sorted(p.name for p in directory.iterdir()) == sorted(MNIST_FILES)  # no staging file left


def test_a_download_moves_files_across_file_systems(tmp_path, serve, monkeypatch):
  """The staging folder may be on another file system than the data dir (os.replace: EXDEV)."""
  import errno
  import os

  real_replace = os.replace

  def replace(source, dest):
    if "dvae-mnist-" in str(source):  # out of the staging folder
      raise OSError(errno.EXDEV, "Invalid cross-device link")
    real_replace(source, dest)

  monkeypatch.setattr(os, "replace", replace)
  paths = download("mnist", str(tmp_path / "data"), mirrors=[serve(SHARED_DATA / "mnist")])
  sums = _official_sha256()
  assert all(_sha256(p) == sums[f"mnist/{p.name}"] for p in paths)
  assert sorted(p.name for p in (tmp_path / "data" / "mnist").iterdir()) == sorted(MNIST_FILES)


def test_first_use_download_via_env_mirror(tmp_path, serve, monkeypatch, caplog):
  monkeypatch.setenv("DVAE_MNIST_MIRRORS", serve(SHARED_DATA / "mnist"))
  test = load_split("mnist", "test", data_dir=str(tmp_path))
  assert test.images.shape == (10000, 28, 28, 1)
  assert np.bincount(test.labels).tolist() == MNIST_TEST_COUNTS
  assert "dvae data download mnist" in caplog.text


# ---------------------------------------------------------------- TFDS


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
