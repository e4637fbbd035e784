"""Bring-your-own arrays: a Keras-style .npz archive written with np.savez (never unpickled).

The archive holds four arrays, as written by

  np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)

(or np.savez_compressed): uint8 images [N, H, W] or [N, H, W, C] with C in {1, 3},
and 1-D integer labels [N] with values >= 0. Both splits must share (H, W, C).
"""

import pathlib
import zipfile
import zlib

import numpy as np

from dvae_jax.data.common import DataError, ImageData

SPLIT_KEYS: dict[str, tuple[str, str]] = {"train": ("x_train", "y_train"), "test": ("x_test", "y_test")}
EXPECTED_KEYS: tuple[str, ...] = ("x_train", "y_train", "x_test", "y_test")
CHANNELS: tuple[int, ...] = (1, 3)

_SAVEZ = "np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"
_LAYOUT = "uint8 images [N, H, W] or [N, H, W, C] with C = 1 or 3, and 1-D integer labels [N] with values >= 0"
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header; the end record of an empty zip
# What reading a damaged archive or member can raise: zipfile's own errors are not OSErrors, a bad
# deflate stream surfaces as zlib.error, and numpy reports short or malformed .npy data as ValueError.
_READ_ERRORS = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)
_INT32_MAX = int(np.iinfo(np.int32).max)


def _open(path: pathlib.Path) -> np.lib.npyio.NpzFile:
  """Opens the archive lazily (members are read on access), with precise errors for non-archives."""
  if not path.exists():
    hint = ""
    if path.suffix != ".npz" and path.with_name(path.name + ".npz").is_file():
      # np.savez appends .npz to a name without it, so this is the likely mix-up.
      hint = f" {path.name}.npz exists beside it: np.savez appends .npz to file names that lack it."
    raise DataError(
      f"npz dataset file {path} not found.{hint} Create one with {_SAVEZ} (or np.savez_compressed) "
      f"holding {_LAYOUT}, and point --config.data.path at it."
    )
  if not path.is_file():
    raise DataError(f"npz dataset path {path} is not a file; expected a .npz archive written with {_SAVEZ}.")
  try:
    with open(path, "rb") as f:
      magic = f.read(len(_NPY_MAGIC))
  except OSError as e:
    raise DataError(f"npz dataset file {path} could not be read ({e}).") from e
  if magic.startswith(_NPY_MAGIC):
    raise DataError(
      f"{path} is a .npy file holding a single array (written with np.save); expected a .npz archive "
      f"holding the arrays x_train, y_train, x_test and y_test. Save them together with {_SAVEZ}."
    )
  if not magic.startswith(_ZIP_MAGICS):
    found = "an empty file" if not magic else f"a file starting with {magic!r}"
    raise DataError(
      f"{path} is not a valid .npz archive (a zip file of .npy arrays): found {found}. "
      f"Write it with {_SAVEZ} (or np.savez_compressed); pickles and text files are not read."
    )
  try:
    return np.load(path, allow_pickle=False)
  except _READ_ERRORS as e:
    raise DataError(
      f"{path} is not a valid .npz archive: the zip file is truncated or corrupt ({type(e).__name__}: {e}). "
      f"Write it again with {_SAVEZ}."
    ) from e


def _check_keys(npz: np.lib.npyio.NpzFile, path: pathlib.Path) -> None:
  """Raises DataError unless the archive holds every expected array (extra ones are ignored)."""
  missing = [k for k in EXPECTED_KEYS if k not in npz.files]
  if not missing:
    return
  found = ", ".join(npz.files) or "no arrays"
  hint = ""
  if any(k.startswith("arr_") for k in npz.files):
    hint = " Arrays passed to np.savez positionally are named arr_0, arr_1, ...; pass them as keywords."
  raise DataError(
    f"{path}: expected arrays {', '.join(EXPECTED_KEYS)}, missing {', '.join(missing)}; found {found}.{hint} "
    f"Write the archive with {_SAVEZ}."
  )


def _header(npz: np.lib.npyio.NpzFile, path: pathlib.Path, key: str) -> tuple[tuple[int, ...], np.dtype]:
  """Returns (shape, dtype) of one member from its .npy header, without reading its data."""
  names = npz.zip.namelist()
  member = f"{key}.npy" if f"{key}.npy" in names else key
  try:
    with npz.zip.open(member) as f:
      version = np.lib.format.read_magic(f)
      # Versions 2.0 and 3.0 share the header layout; 3.0 only differs in how field names are encoded.
      read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
      shape, _, dtype = read(f)
  except _READ_ERRORS as e:
    raise DataError(
      f"{path}: entry {member!r} is not a readable .npy array ({type(e).__name__}: {e}); the archive is "
      f"truncated or corrupt, or was not written with {_SAVEZ}."
    ) from e
  return shape, dtype


def _object_error(path: pathlib.Path, key: str, dtype: np.dtype) -> DataError:
  return DataError(
    f"{path}: {key} is an object array (dtype {dtype}); reading it would mean unpickling, which this loader "
    f"never does. Save {key} as a plain numeric array ({'uint8' if key.startswith('x') else 'integer'})."
  )


def _image_hwc(path: pathlib.Path, key: str, shape: tuple[int, ...], dtype: np.dtype) -> tuple[int, int, int]:
  """Checks an image array's header and returns its (H, W, C), with C = 1 for [N, H, W]."""
  if dtype.hasobject:
    raise _object_error(path, key, dtype)
  if dtype != np.uint8:
    if dtype.kind == "f":
      how = (
        f"For values in [0, 1] convert with ({key} * 255).round().astype(np.uint8); "
        f"for values in [0, 255] with {key}.round().astype(np.uint8)."
      )
    elif dtype.kind == "b":
      how = f"Convert with {key}.astype(np.uint8) * 255."
    elif dtype.kind in "iu":
      how = f"If the values lie in 0..255, convert with {key}.astype(np.uint8)."
    else:
      how = f"Save {key} as a uint8 array."
    raise DataError(f"{path}: {key} must have dtype uint8 (pixel values 0..255), found {dtype}. {how}")
  if len(shape) not in (3, 4) or (len(shape) == 4 and shape[3] not in CHANNELS):
    raise DataError(
      f"{path}: {key} must have shape [N, H, W] or [N, H, W, C] with C in {CHANNELS} (NHWC), found shape "
      f"{shape}. Channels-first images [N, C, H, W] need {key}.transpose(0, 2, 3, 1)."
    )
  if min(shape[:3]) < 1:
    raise DataError(f"{path}: {key} must hold at least one image of at least 1x1 pixels, found shape {shape}.")
  return shape[1], shape[2], shape[3] if len(shape) == 4 else 1


def _check_labels_header(
  path: pathlib.Path, key: str, shape: tuple[int, ...], dtype: np.dtype, images_key: str, n: int
) -> None:
  """Checks a label array's header: 1-D, an integer dtype of any width, one label per image."""
  if dtype.hasobject:
    raise _object_error(path, key, dtype)
  if dtype.kind not in "iu":
    raise DataError(
      f"{path}: {key} must have an integer dtype (any signed or unsigned width) holding class indices, found "
      f"{dtype}. If the values are whole class indices, convert with {key}.astype(np.int64)."
    )
  if len(shape) != 1:
    hint = f" For one-hot labels [N, K] save {key}.argmax(axis=1)." if len(shape) == 2 else ""
    raise DataError(f"{path}: {key} must be a 1-D array of N class indices, found shape {shape}.{hint}")
  if shape[0] != n:
    raise DataError(f"{path}: {key} must hold one label per image of {images_key} ({n}), found {shape[0]} labels.")


def _read(npz: np.lib.npyio.NpzFile, path: pathlib.Path, key: str) -> np.ndarray:
  try:
    return npz[key]
  except _READ_ERRORS as e:
    raise DataError(
      f"{path}: the data of {key} could not be read ({type(e).__name__}: {e}); the archive is truncated or "
      f"corrupt. Write it again with {_SAVEZ}."
    ) from e


def load_npz_split(path: str | pathlib.Path, split: str) -> ImageData:
  """Loads one split of a Keras-style .npz archive, checking the whole archive's layout first.

  Every array's header is checked (cheap: no data is read), including that both splits' images share
  (H, W, C); then only the requested split's arrays are read.

  Args:
    path: the .npz file, as written by np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)
      or np.savez_compressed.
    split: "train" (x_train, y_train) or "test" (x_test, y_test).

  Returns:
    ImageData with images uint8 [N, H, W, C] (C = 1 for [N, H, W] input) and labels int32 [N].

  Raises:
    DataError: on a missing, non-.npz, truncated or corrupt file, missing arrays, object arrays, or a
      wrong dtype, shape, label count or label value; the message names the file, the expectation and
      what was found.
  """
  path = pathlib.Path(path)
  if split not in SPLIT_KEYS:
    raise DataError(f"Unknown split {split!r}; expected one of: {', '.join(SPLIT_KEYS)}.")
  other = "test" if split == "train" else "train"
  with _open(path) as npz:
    _check_keys(npz, path)
    hwc = {}
    # The requested split first, so its own problems are the ones reported.
    for s in (split, other):
      images_key, labels_key = SPLIT_KEYS[s]
      images_shape, images_dtype = _header(npz, path, images_key)
      hwc[s] = _image_hwc(path, images_key, images_shape, images_dtype)
      labels_shape, labels_dtype = _header(npz, path, labels_key)
      _check_labels_header(path, labels_key, labels_shape, labels_dtype, images_key, images_shape[0])
    if hwc["train"] != hwc["test"]:
      raise DataError(
        f"{path}: train and test images must have the same (H, W, C), found x_train (H, W, C) = {hwc['train']} "
        f"and x_test (H, W, C) = {hwc['test']}."
      )
    images_key, labels_key = SPLIT_KEYS[split]
    images = _read(npz, path, images_key)
    labels = _read(npz, path, labels_key)

  if labels.min() < 0:
    bad = np.flatnonzero(labels < 0)
    raise DataError(
      f"{path}: {labels_key} must hold class indices >= 0, found {bad.size} negative labels "
      f"(first: {int(labels[bad[0]])} at index {int(bad[0])})."
    )
  if labels.max() > _INT32_MAX:
    raise DataError(f"{path}: {labels_key} must fit in int32 (<= {_INT32_MAX}), found {int(labels.max())}.")
  if images.ndim == 3:
    images = images[..., None]
  # A Fortran-ordered array from np.savez would otherwise be handed on as a strided view.
  return ImageData(images=np.ascontiguousarray(images), labels=labels.astype(np.int32))
