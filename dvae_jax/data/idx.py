"""MNIST-style IDX files: official checksums, verification and parsing."""

import gzip
import hashlib
import os
import pathlib

import numpy as np

from dvae_jax.data.common import DataError, ImageData

# Official (file name -> (size in bytes, sha256)); these equal the
# url_checksums shipped with tensorflow-datasets.
IDX_FILES: dict[str, dict[str, tuple[int, str]]] = {
  "mnist": {
    "train-images-idx3-ubyte.gz": (9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "train-labels-idx1-ubyte.gz": (28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "t10k-images-idx3-ubyte.gz": (1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "t10k-labels-idx1-ubyte.gz": (4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
  },
  "fashion_mnist": {
    "train-images-idx3-ubyte.gz": (26421880, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
    "train-labels-idx1-ubyte.gz": (29515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
    "t10k-images-idx3-ubyte.gz": (4422102, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
    "t10k-labels-idx1-ubyte.gz": (5148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
  },
}

_SPLIT_PREFIX = {"train": "train", "test": "t10k"}
_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049
_ROWS = _COLS = 28

# (resolved path, size, mtime_ns) -> sha256 hex digest; a rewritten file gets a
# new key, so a stale entry can never vouch for changed bytes.
_SHA256_CACHE: dict[tuple[str, int, int], str] = {}


def split_files(split: str) -> tuple[str, str]:
  """Returns the (images, labels) file names of an IDX split."""
  prefix = _SPLIT_PREFIX[split]
  return f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"


def sha256_file(path: pathlib.Path) -> str:
  """Returns the sha256 hex digest of a file, memoised per (path, size, mtime)."""
  st = path.stat()
  key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
  if key not in _SHA256_CACHE:
    h = hashlib.sha256()
    with open(path, "rb") as f:
      for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
    _SHA256_CACHE[key] = h.hexdigest()
  return _SHA256_CACHE[key]


def verify(name: str, path: pathlib.Path) -> None:
  """Raises DataError unless `path` is byte-identical to the official file."""
  size, expected = IDX_FILES[name][path.name]
  found = sha256_file(path)
  if found != expected:
    found_size = os.path.getsize(path)
    problem = "is truncated" if found_size < size else "does not match the official file"
    raise DataError(
      f"{path} {problem}: expected sha256 {expected} ({size} bytes), found sha256 "
      f"{found} ({found_size} bytes). The file is corrupt or not the official "
      f"{name} release; delete it and re-run `dvae data download {name}`."
    )


def _read_idx(path: pathlib.Path, magic: int, header_ints: int) -> tuple[tuple[int, ...], bytes]:
  try:
    with gzip.open(path, "rb") as f:
      raw = f.read()
  except (OSError, EOFError) as e:
    raise DataError(f"{path} is not a readable gzip file ({e}); delete it and re-download.") from e
  header = np.frombuffer(raw, dtype=">u4", count=header_ints) if len(raw) >= 4 * header_ints else None
  if header is None or int(header[0]) != magic:
    found = "a too-short file" if header is None else f"magic {int(header[0])}"
    raise DataError(f"{path}: expected an IDX file with magic {magic}, found {found}.")
  return tuple(int(v) for v in header[1:]), raw[4 * header_ints :]


def load_idx_split(name: str, directory: pathlib.Path, split: str) -> ImageData:
  """Verifies and parses one split of MNIST-style IDX files.

  Args:
    name: "mnist" or "fashion_mnist" (selects the official checksums).
    directory: folder holding the four .gz files.
    split: "train" or "test".

  Returns:
    ImageData with images uint8 [N, 28, 28, 1] and labels int32 [N].
  """
  images_path, labels_path = (directory / f for f in split_files(split))
  for path in (images_path, labels_path):
    verify(name, path)

  (n, rows, cols), pixels = _read_idx(images_path, _IMAGES_MAGIC, 4)
  if (rows, cols) != (_ROWS, _COLS) or len(pixels) != n * rows * cols:
    raise DataError(
      f"{images_path}: expected {n} images of {_ROWS}x{_COLS} ({n * _ROWS * _COLS} bytes), "
      f"found {rows}x{cols} with {len(pixels)} pixel bytes."
    )
  (n_labels,), label_bytes = _read_idx(labels_path, _LABELS_MAGIC, 2)
  if n_labels != n or len(label_bytes) != n:
    raise DataError(
      f"{labels_path}: expected {n} labels to match {images_path.name}, "
      f"found a header count of {n_labels} and {len(label_bytes)} label bytes."
    )
  # Copy so callers get ordinary writable arrays rather than views of bytes.
  images = np.frombuffer(pixels, dtype=np.uint8).reshape(n, rows, cols, 1).copy()
  labels = np.frombuffer(label_bytes, dtype=np.uint8).astype(np.int32)
  return ImageData(images=images, labels=labels)
