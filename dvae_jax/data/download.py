"""Fetching the official MNIST / Fashion-MNIST files with sha256 verification."""

import errno
import hashlib
import http.client
import os
import pathlib
import shutil
import tempfile
import urllib.request
from collections.abc import Sequence

from dvae_jax.data.common import DataError
from dvae_jax.data.idx import IDX_FILES, sha256_file

DEFAULT_MIRRORS: dict[str, tuple[str, ...]] = {
  "mnist": (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
  ),
  "fashion_mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}
_TIMEOUT_S = 60


def mirrors_for(name: str) -> tuple[str, ...]:
  """Returns the mirror base URLs for `name`.

  `$DVAE_MNIST_MIRRORS` / `$DVAE_FASHION_MNIST_MIRRORS` (comma-separated base
  URLs), when set and non-empty, replace the official list; this lets a local
  or institutional mirror (and tests) serve first-use downloads.
  """
  env = os.environ.get(f"DVAE_{name.upper()}_MIRRORS", "")
  custom = tuple(m.strip() for m in env.split(",") if m.strip())
  return custom or DEFAULT_MIRRORS[name]


def _fetch(url: str, dest: pathlib.Path, expected_sha256: str) -> None:
  """Streams url to dest (in a staging folder), raising DataError unless its sha256 is `expected_sha256`."""
  h = hashlib.sha256()
  with open(dest, "wb") as out, urllib.request.urlopen(url, timeout=_TIMEOUT_S) as resp:
    for chunk in iter(lambda: resp.read(1 << 20), b""):
      h.update(chunk)
      out.write(chunk)
  if h.hexdigest() != expected_sha256:
    raise DataError(f"sha256 mismatch: expected {expected_sha256}, got {h.hexdigest()}")


def _move_into_place(source: pathlib.Path, dest: pathlib.Path) -> None:
  """Renames source to dest atomically (dest is either absent or complete), through a temporary file
  beside dest when the two are on different file systems."""
  try:
    os.replace(source, dest)
    return
  except OSError as e:
    if e.errno != errno.EXDEV:
      raise
  fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
  os.close(fd)
  try:
    shutil.copyfile(source, name)
    os.replace(name, dest)
  finally:
    pathlib.Path(name).unlink(missing_ok=True)


def download_idx(name: str, directory: pathlib.Path, mirrors: Sequence[str] | None = None) -> list[pathlib.Path]:
  """Fetches the four IDX files of `name` into `directory`.

  The files are fetched into a temporary folder and moved into `directory` (created then) only once
  every one of them is verified: a failed download leaves nothing behind, not even `directory`.

  Args:
    name: "mnist" or "fashion_mnist".
    directory: destination folder (created if needed).
    mirrors: base URLs tried in order per file; default `mirrors_for(name)`.

  Returns:
    The paths of the four verified files.

  Raises:
    DataError: if some file could not be fetched intact from any mirror.
  """
  mirrors = tuple(mirrors) if mirrors else mirrors_for(name)
  paths = [directory / filename for filename in IDX_FILES[name]]
  wanted = {
    filename: expected
    for filename, (_, expected) in IDX_FILES[name].items()
    if not ((directory / filename).is_file() and sha256_file(directory / filename) == expected)
  }
  if not wanted:
    return paths
  with tempfile.TemporaryDirectory(prefix=f"dvae-{name}-") as staging:
    for filename, expected in wanted.items():
      failures = []
      for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        try:
          _fetch(url, pathlib.Path(staging) / filename, expected)
          break
        except (OSError, http.client.HTTPException, DataError) as e:  # URLError is an OSError
          failures.append(f"{url}: {e}")
      else:
        raise DataError(
          f"Could not download {filename} for {name} into {directory}; every mirror failed ("
          + "; ".join(failures)
          + f"). Nothing was written to {directory}. Check your network, set $DVAE_{name.upper()}_MIRRORS to a "
          f"working mirror, or copy the official files into {directory} by hand."
        )
    directory.mkdir(parents=True, exist_ok=True)
    for filename in wanted:
      _move_into_place(pathlib.Path(staging) / filename, directory / filename)
  return paths
