"""CIFAR-10 "binary version" files (never the pickled Python version)."""

import pathlib

import numpy as np

from dvae_jax.data.common import DataError, ImageData

_SIDE = 32
_PLANE = _SIDE * _SIDE
_RECORD = 1 + 3 * _PLANE  # label byte, then R, G and B planes, each row-major 32x32
_SPLIT_FILES = {
  "train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
  "test": ("test_batch.bin",),
}
_EXTRACTED_SUBDIR = "cifar-10-batches-bin"  # what the official tarball extracts to


def _find_dir(root: pathlib.Path, split: str) -> pathlib.Path:
  """Returns the folder under root that holds every file of `split`."""
  candidates = (root / _EXTRACTED_SUBDIR, root)
  for directory in candidates:
    if all((directory / f).is_file() for f in _SPLIT_FILES[split]):
      return directory
  raise DataError(
    f"CIFAR-10 {split} files not found: expected {', '.join(_SPLIT_FILES[split])} in "
    f"{candidates[0]} or {candidates[1]}. Automatic CIFAR-10 download is not supported; "
    'download the official "CIFAR-10 binary version" tarball (cifar-10-binary.tar.gz from '
    "https://www.cs.toronto.edu/~kriz/cifar.html) and extract it into that folder (it "
    f"creates {_EXTRACTED_SUBDIR}/), or point --config.data.dir / $DVAE_DATA_DIR at a data "
    "dir whose cifar10/ folder has those files."
  )


def decode_records(raw: bytes, path: pathlib.Path) -> ImageData:
  """Decodes concatenated CIFAR-10 binary records into NHWC uint8 images."""
  if len(raw) % _RECORD:
    raise DataError(
      f"{path} is truncated or corrupt: CIFAR-10 binary files hold whole {_RECORD}-byte "
      f"records (10000 per official file, {10000 * _RECORD} bytes), found {len(raw)} bytes. "
      "Delete it and extract it again from the official binary tarball."
    )
  records = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _RECORD)
  labels = records[:, 0].astype(np.int32)
  if labels.size and labels.max() > 9:
    raise DataError(
      f"{path}: expected CIFAR-10 labels in 0..9, found {int(labels.max())}; the file is "
      "corrupt or not the binary version. Extract it again from the official binary tarball."
    )
  # [N, C, H, W] planes -> NHWC.
  images = records[:, 1:].reshape(-1, 3, _SIDE, _SIDE).transpose(0, 2, 3, 1)
  return ImageData(images=np.ascontiguousarray(images), labels=labels)


def load_cifar10_split(root: pathlib.Path, split: str) -> ImageData:
  """Loads a CIFAR-10 split from <root>/ or <root>/cifar-10-batches-bin/.

  Args:
    root: the data dir's cifar10/ folder.
    split: "train" (data_batch_1..5, in order) or "test" (test_batch).

  Returns:
    ImageData with images uint8 [N, 32, 32, 3] and labels int32 [N].
  """
  directory = _find_dir(root, split)
  parts = [decode_records((directory / f).read_bytes(), directory / f) for f in _SPLIT_FILES[split]]
  return ImageData(
    images=np.concatenate([p.images for p in parts]),
    labels=np.concatenate([p.labels for p in parts]),
  )
