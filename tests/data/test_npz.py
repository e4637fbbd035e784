"""Tests for the "npz" dataset: Keras-style archives written with np.savez."""

from __future__ import annotations

import pathlib
import re
import zipfile

import numpy as np
import pytest

from dvae_jax import train
from dvae_jax.configs import load_experiment
from dvae_jax.data.npz import load_npz_split
from dvae_jax.data.sources import DATASETS, DataError, download, load_split
from dvae_jax.experiment import build_experiment

N_TRAIN, N_TEST, H, W = 20, 8, 6, 5


UNPICKLED: list[str] = []


def _record_unpickle() -> str:
  UNPICKLED.append("called")
  return "unpickled"


class _Tripwire:
  """Unpickling an instance calls _record_unpickle, so a test can see whether anything was unpickled."""

  def __reduce__(self):
    return _record_unpickle, ()


def _arrays(channels: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
  """Random uint8 images [N, H, W] (or [N, H, W, channels]) and int64 labels for both splits."""
  rng = np.random.default_rng(seed)
  tail = (H, W) if channels is None else (H, W, channels)
  return {
    "x_train": rng.integers(0, 256, (N_TRAIN, *tail), dtype=np.uint8),
    "y_train": rng.integers(0, 10, N_TRAIN),
    "x_test": rng.integers(0, 256, (N_TEST, *tail), dtype=np.uint8),
    "y_test": rng.integers(0, 10, N_TEST),
  }


def _write(path: pathlib.Path, compressed: bool = False, **overrides: np.ndarray | None) -> dict[str, np.ndarray]:
  """Writes the default arrays with `overrides` applied (None drops a key); returns what was written."""
  arrays = _arrays()
  arrays.update(overrides)
  arrays = {k: v for k, v in arrays.items() if v is not None}
  (np.savez_compressed if compressed else np.savez)(path, **arrays)
  return arrays


def _raises(path: pathlib.Path, *facts: str, split: str = "train") -> str:
  """Asserts loading `split` fails with a DataError naming the file and each fact; returns the message."""
  with pytest.raises(DataError) as e:
    load_npz_split(path, split)
  msg = str(e.value)
  for fact in (str(path), *facts):
    assert fact in msg, f"{fact!r} not in {msg!r}"
  return msg


def test_grayscale_round_trip_adds_channel_axis(tmp_path):
  path = tmp_path / "gray.npz"
  arrays = _write(path)
  for split, n in (("train", N_TRAIN), ("test", N_TEST)):
    data = load_npz_split(path, split)
    assert data.images.shape == (n, H, W, 1) and data.images.dtype == np.uint8
    assert data.labels.shape == (n,) and data.labels.dtype == np.int32
    np.testing.assert_array_equal(data.images[..., 0], arrays[f"x_{split}"])
    np.testing.assert_array_equal(data.labels, arrays[f"y_{split}"])


@pytest.mark.parametrize("channels", [1, 3])
def test_nhwc_is_kept(tmp_path, channels):
  path = tmp_path / "nhwc.npz"
  arrays = _arrays(channels)
  np.savez(path, **arrays)
  data = load_npz_split(str(path), "test")
  assert data.images.shape == (N_TEST, H, W, channels)
  np.testing.assert_array_equal(data.images, arrays["x_test"])
  np.testing.assert_array_equal(data.labels, arrays["y_test"])


def test_savez_compressed(tmp_path):
  path = tmp_path / "compressed.npz"
  arrays = _write(path, compressed=True, x_train=_arrays(3)["x_train"], x_test=_arrays(3)["x_test"])
  with zipfile.ZipFile(path) as z:
    assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_DEFLATED}
  data = load_npz_split(path, "train")
  np.testing.assert_array_equal(data.images, arrays["x_train"])
  np.testing.assert_array_equal(data.labels, arrays["y_train"])


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int32, np.int64, np.uint64, ">i4"])
def test_any_integer_label_width_becomes_int32(tmp_path, dtype):
  path = tmp_path / "labels.npz"
  labels = np.arange(N_TRAIN).astype(dtype)
  _write(path, y_train=labels)
  data = load_npz_split(path, "train")
  assert data.labels.dtype == np.int32
  assert data.labels.tolist() == list(range(N_TRAIN))


def test_fortran_order_is_made_contiguous(tmp_path):
  path = tmp_path / "fortran.npz"
  x_train = np.asfortranarray(_arrays()["x_train"])
  _write(path, x_train=x_train)
  data = load_npz_split(path, "train")
  assert data.images.flags.c_contiguous
  np.testing.assert_array_equal(data.images[..., 0], x_train)


def test_grayscale_and_single_channel_splits_are_compatible(tmp_path):
  path = tmp_path / "mixed.npz"
  arrays = _write(path, x_test=_arrays(1)["x_test"])
  assert load_npz_split(path, "train").images.shape[1:] == load_npz_split(path, "test").images.shape[1:] == (H, W, 1)
  np.testing.assert_array_equal(load_npz_split(path, "test").images, arrays["x_test"])


def test_load_split_npz(tmp_path):
  path = tmp_path / "mine.npz"
  arrays = _write(path)
  assert "npz" in DATASETS
  # data_dir and source belong to the other datasets and are ignored here.
  data = load_split("npz", "train", path=str(path), data_dir=str(tmp_path / "absent"), source="tfds")
  np.testing.assert_array_equal(data.images[..., 0], arrays["x_train"])
  assert data.labels.dtype == np.int32 and data.labels.tolist() == arrays["y_train"].tolist()


def test_load_split_npz_relative_and_home_paths(tmp_path, monkeypatch):
  (tmp_path / "sub").mkdir()
  arrays = _write(tmp_path / "sub" / "mine.npz")
  monkeypatch.chdir(tmp_path)
  relative = load_split("npz", "test", path="sub/mine.npz")
  np.testing.assert_array_equal(relative.images[..., 0], arrays["x_test"])
  monkeypatch.setenv("HOME", str(tmp_path / "sub"))
  home = load_split("npz", "test", path="~/mine.npz")
  np.testing.assert_array_equal(home.images, relative.images)


def test_load_split_npz_missing_relative_path_is_reported_absolute(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  with pytest.raises(DataError, match=re.escape(str(tmp_path / "nope.npz"))):
    load_split("npz", "train", path="nope.npz")


@pytest.mark.parametrize("path", [None, ""])
def test_load_split_npz_requires_path(path):
  with pytest.raises(DataError, match=r"config\.data\.path must name the \.npz file"):
    load_split("npz", "train", path=path)


def test_npz_has_nothing_to_download(tmp_path):
  with pytest.raises(DataError, match="nothing to download"):
    download("npz", str(tmp_path))


def test_unknown_split(tmp_path):
  path = tmp_path / "mine.npz"
  _write(path)
  with pytest.raises(DataError, match="'valid'.*train, test"):
    load_npz_split(path, "valid")


def test_missing_file_says_how_to_create_one(tmp_path):
  msg = _raises(
    tmp_path / "absent.npz", "not found", "np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"
  )
  assert "config.data.path" in msg


def test_missing_suffix_points_at_the_npz_that_savez_wrote(tmp_path):
  # np.savez("mine", ...) writes mine.npz.
  np.savez(tmp_path / "mine", **_arrays())
  _raises(tmp_path / "mine", "mine.npz exists", "appends .npz")


def test_directory_is_rejected(tmp_path):
  _raises(tmp_path, "is not a file")


def test_plain_npy_is_rejected(tmp_path):
  path = tmp_path / "images.npy"
  np.save(path, _arrays()["x_train"])
  _raises(path, ".npy file holding a single array", "np.savez")


@pytest.mark.parametrize(
  "content, found",
  [(b"", "an empty file"), (b"x_train,y_train\n1,2\n", "b'x_trai'"), (b"\x80\x04\x95 pickle", "b'\\x80\\x04")],
)
def test_non_zip_is_rejected_without_unpickling(tmp_path, content, found):
  path = tmp_path / "data.npz"
  path.write_bytes(content)
  _raises(path, "not a valid .npz archive", found)


def test_truncated_archive_is_rejected(tmp_path):
  path = tmp_path / "data.npz"
  _write(path)
  path.write_bytes(path.read_bytes()[:-200])
  _raises(path, "not a valid .npz archive", "truncated or corrupt")


@pytest.mark.parametrize("side", [W, 64])
def test_corrupted_member_data_is_rejected(tmp_path, side):
  # A small member is checked against its zip CRC as soon as its header is read (zipfile reads ahead); a
  # large one only once its data is read to the end.
  path = tmp_path / "data.npz"
  rng = np.random.default_rng(1)
  arrays = _write(
    path,
    x_train=rng.integers(0, 256, (N_TRAIN, H, side), dtype=np.uint8),
    x_test=rng.integers(0, 256, (N_TEST, H, side), dtype=np.uint8),
  )
  raw = bytearray(path.read_bytes())
  pixels = arrays["x_train"].tobytes()
  start = raw.index(pixels[:32])
  raw[start + len(pixels) - 10] ^= 0xFF
  path.write_bytes(bytes(raw))
  _raises(path, "x_train", "truncated or corrupt", "Bad CRC-32")


def test_member_that_is_not_npy_is_rejected(tmp_path):
  path = tmp_path / "data.npz"
  with zipfile.ZipFile(path, "w") as z:
    for key in ("x_train", "y_train", "x_test", "y_test"):
      z.writestr(f"{key}.npy", b"not an array")
  _raises(path, "'x_train.npy' is not a readable .npy array")


def test_missing_keys_lists_found_and_expected(tmp_path):
  path = tmp_path / "data.npz"
  _write(path, y_test=None, x_test=None, extra=np.zeros(3))
  msg = _raises(path, "expected arrays x_train, y_train, x_test, y_test", "missing x_test, y_test")
  assert "found x_train, y_train, extra" in msg


def test_positional_savez_gets_a_hint(tmp_path):
  path = tmp_path / "data.npz"
  arrays = _arrays()
  np.savez(path, arrays["x_train"], arrays["y_train"])
  _raises(path, "found arr_0, arr_1", "pass them as keywords")


def test_object_images_are_rejected_without_unpickling(tmp_path):
  path = tmp_path / "data.npz"
  tripwire = np.empty(N_TRAIN, dtype=object)
  tripwire[:] = [_Tripwire() for _ in range(N_TRAIN)]
  _write(path, x_train=tripwire)
  UNPICKLED.clear()
  for split in ("train", "test"):
    _raises(path, "x_train is an object array", "never", split=split)
  assert UNPICKLED == []


def test_object_labels_are_rejected(tmp_path):
  path = tmp_path / "data.npz"
  _write(path, y_test=np.array([1, "a"] * (N_TEST // 2), dtype=object))
  _raises(path, "y_test is an object array", split="test")


@pytest.mark.parametrize(
  "images, facts",
  [
    (
      np.zeros((N_TRAIN, H, W), np.float32),
      ["dtype uint8", "found float32", "(x_train * 255).round().astype(np.uint8)"],
    ),
    (np.zeros((N_TRAIN, H, W), np.float64), ["found float64", "x_train.round().astype(np.uint8)"]),
    (np.zeros((N_TRAIN, H, W), np.int16), ["found int16", "x_train.astype(np.uint8)"]),
    (np.zeros((N_TRAIN, H, W), bool), ["found bool", "x_train.astype(np.uint8) * 255"]),
  ],
)
def test_wrong_image_dtype_says_how_to_convert(tmp_path, images, facts):
  path = tmp_path / "data.npz"
  _write(path, x_train=images)
  _raises(path, *facts)


@pytest.mark.parametrize(
  "shape, facts",
  [
    ((N_TRAIN, H * W), ["[N, H, W] or [N, H, W, C]", f"found shape ({N_TRAIN}, {H * W})"]),
    ((N_TRAIN, H, W, 2), ["C in (1, 3)", f"found shape ({N_TRAIN}, {H}, {W}, 2)"]),
    ((N_TRAIN, 3, H, W), ["found shape", "transpose(0, 2, 3, 1)"]),
    ((N_TRAIN, H, W, 3, 1), [f"found shape ({N_TRAIN}, {H}, {W}, 3, 1)"]),
    ((0, H, W), ["at least one image", f"found shape (0, {H}, {W})"]),
  ],
)
def test_wrong_image_shape(tmp_path, shape, facts):
  path = tmp_path / "data.npz"
  _write(path, x_train=np.zeros(shape, np.uint8), y_train=np.zeros(shape[0], np.int64))
  _raises(path, "x_train", *facts)


@pytest.mark.parametrize(
  "labels, facts",
  [
    (np.zeros(N_TRAIN, bool), ["integer dtype", "found bool"]),
    (np.zeros(N_TRAIN, np.float32), ["integer dtype", "found float32", "y_train.astype(np.int64)"]),
    (np.zeros((N_TRAIN, 10), np.int64), ["1-D", f"found shape ({N_TRAIN}, 10)", "y_train.argmax(axis=1)"]),
    (np.zeros(N_TRAIN - 1, np.int64), ["one label per image of x_train (20)", "found 19 labels"]),
  ],
)
def test_wrong_labels(tmp_path, labels, facts):
  path = tmp_path / "data.npz"
  _write(path, y_train=labels)
  _raises(path, "y_train", *facts)


def test_negative_labels(tmp_path):
  path = tmp_path / "data.npz"
  labels = np.arange(N_TEST) - 2
  _write(path, y_test=labels)
  _raises(path, "y_test", ">= 0", "2 negative labels", "first: -2 at index 0", split="test")


def test_labels_beyond_int32(tmp_path):
  path = tmp_path / "data.npz"
  _write(path, y_train=np.full(N_TRAIN, 2**40, np.uint64))
  _raises(path, "y_train", "int32", str(2**40))


def test_other_splits_problems_are_caught_from_its_header(tmp_path):
  path = tmp_path / "data.npz"
  _write(path, x_test=np.zeros((N_TEST, H, W), np.float32))
  _raises(path, "x_test", "found float32", split="train")


@pytest.mark.parametrize(
  "x_test, found",
  [
    (np.zeros((N_TEST, H, W - 1), np.uint8), f"x_test (H, W, C) = ({H}, {W - 1}, 1)"),
    (np.zeros((N_TEST, H, W, 3), np.uint8), f"x_test (H, W, C) = ({H}, {W}, 3)"),
  ],
)
def test_train_and_test_image_shapes_must_match(tmp_path, x_test, found):
  path = tmp_path / "data.npz"
  _write(path, x_test=x_test)
  for split in ("train", "test"):
    _raises(path, "same (H, W, C)", f"x_train (H, W, C) = ({H}, {W}, 1)", found, split=split)


def test_npz_dataset_trains_with_the_usual_split_and_preprocessing(tmp_path):
  """A user's own arrays (experiments' `data.name=npz`): validation split, binarization, training."""
  rng = np.random.default_rng(0)
  path = tmp_path / "mine.npz"
  np.savez(
    path,
    x_train=rng.integers(0, 256, (80, 8, 8), dtype=np.uint8),
    y_train=rng.integers(0, 3, 80),
    x_test=rng.integers(0, 256, (24, 8, 8), dtype=np.uint8),
    y_test=rng.integers(0, 3, 24),
  )
  config = load_experiment("mnist_vae_flax", "smoke")
  config.data.name, config.data.path = "npz", str(path)
  config.data.validation_split, config.data.validation_fraction = "random", 0.25
  config.data.binarize = "dynamic"
  config.train.batch_size, config.train.num_epochs, config.train.progress_bar = 20, 1, False
  config.num_devices = 1
  experiment = build_experiment(config)
  splits = experiment.splits
  assert (len(splits.train), len(splits.valid), len(splits.test)) == (60, 20, 24)
  assert experiment.hparams.image_shape == (8, 8, 1) and splits.num_classes == 3
  assert not set(splits.train.ids) & set(splits.valid.ids)  # a seeded random split of the train file
  image = np.asarray(experiment.prepare(splits.valid.take(np.arange(4)))["image"])
  assert set(np.unique(image)) <= {0.0, 1.0}  # binarized on the device like any other dataset
  valid = train.run_training(experiment, tmp_path / "run")
  assert np.isfinite(valid["neg_elbo_nats"])
