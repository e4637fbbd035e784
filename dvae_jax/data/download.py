"""Fetching the official MNIST / Fashion-MNIST files with sha256 verification."""

import hashlib
import http.client
import os
import pathlib
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
  """Streams url to a temp file beside dest, checks sha256, renames into place."""
  fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
  tmp = pathlib.Path(tmp_name)
  try:
    h = hashlib.sha256()
    with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=_TIMEOUT_S) as resp:
      for chunk in iter(lambda: resp.read(1 << 20), b""):
        h.update(chunk)
        out.write(chunk)
    if h.hexdigest() != expected_sha256:
      raise DataError(f"sha256 mismatch: expected {expected_sha256}, got {h.hexdigest()}")
    os.replace(tmp, dest)  # atomic: dest is either absent or complete
  finally:
    tmp.unlink(missing_ok=True)


def download_idx(name: str, directory: pathlib.Path, mirrors: Sequence[str] | None = None) -> list[pathlib.Path]:
  """Fetches the four IDX files of `name` into `directory`.

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
  directory.mkdir(parents=True, exist_ok=True)
  paths = []
  for filename, (_, expected) in IDX_FILES[name].items():
    dest = directory / filename
    paths.append(dest)
    if dest.is_file() and sha256_file(dest) == expected:
      continue
    failures = []
    for base in mirrors:
      url = base.rstrip("/") + "/" + filename
      try:
        _fetch(url, dest, expected)
        break
      except (OSError, http.client.HTTPException, DataError) as e:  # URLError is an OSError
        failures.append(f"{url}: {e}")
    else:
      raise DataError(
        f"Could not download {filename} for {name} into {directory}; every mirror failed ("
        + "; ".join(failures)
        + f"). Check your network, set $DVAE_{name.upper()}_MIRRORS to a working mirror, or "
        f"copy the official files into {directory} by hand."
      )
  return paths
