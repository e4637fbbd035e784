"""data/sources.py: `load_split` and the data folder: where it is, what a missing file or an unknown name says, and
the first use that downloads."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from dvae_jax.data.sources import DataError, load_split, resolve_data_dir
from tests.helpers import MNIST_TEST_COUNTS, SHARED_DATA


def test_data_dir_resolution(monkeypatch, tmp_path):
  monkeypatch.setenv("DVAE_DATA_DIR", str(tmp_path))
  assert resolve_data_dir("/x") == pathlib.Path("/x")
  assert resolve_data_dir(None) == tmp_path
  assert resolve_data_dir("") == tmp_path
  monkeypatch.delenv("DVAE_DATA_DIR")
  assert resolve_data_dir(None) == pathlib.Path.home() / ".cache" / "dvae_jax" / "data"


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


def test_a_wrong_data_dir_is_left_as_it_was_when_the_download_fails(tmp_path, monkeypatch):
  """--config.data.dir=<an existing folder without mnist/>, offline: no empty mnist/ is left there."""
  wrong = tmp_path / "wrong"
  (wrong / "notes").mkdir(parents=True)
  monkeypatch.setenv("DVAE_MNIST_MIRRORS", "http://127.0.0.1:1/")  # nothing listens on port 1
  with pytest.raises(DataError, match=r"downloading them failed.*Nothing was written to .*wrong/mnist"):
    load_split("mnist", "train", data_dir=str(wrong))
  assert [p.name for p in wrong.iterdir()] == ["notes"] and not any((wrong / "notes").iterdir())


def test_first_use_download_via_env_mirror(tmp_path, serve, monkeypatch, caplog):
  monkeypatch.setenv("DVAE_MNIST_MIRRORS", serve(SHARED_DATA / "mnist"))
  test = load_split("mnist", "test", data_dir=str(tmp_path))
  assert test.images.shape == (10000, 28, 28, 1)
  assert np.bincount(test.labels).tolist() == MNIST_TEST_COUNTS
  assert "dvae data download mnist" in caplog.text
