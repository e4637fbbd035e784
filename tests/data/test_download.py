"""data/download.py: downloading the MNIST files from (fake, local) mirrors: checked against the official
digests, falling back after a bad mirror, and leaving nothing half-written."""

from __future__ import annotations

import hashlib
import pathlib
import shutil

import pytest

from dvae_jax.data.sources import DataError, download
from tests.helpers import MNIST_FILES, SHARED_DATA, copy_mnist


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


def _sha256(path: pathlib.Path) -> str:
  return hashlib.sha256(path.read_bytes()).hexdigest()


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
  directory = copy_mnist(tmp_path / "data")
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
