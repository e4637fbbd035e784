"""Public entry points for image datasets: raw files, TFDS, synthetic, or your own arrays.

A data dir holds one folder per dataset:

  <dir>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
  <dir>/fashion_mnist/  (same four names)
  <dir>/cifar10/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin
      (or the .bin files directly in <dir>/cifar10/)
  <dir>/tfds/  (TFDS's prepared copies, when source="tfds")

MNIST and Fashion-MNIST files are checked against the official sha256 before
parsing. Missing ones are fetched from the official mirrors on first use;
`$DVAE_MNIST_MIRRORS` / `$DVAE_FASHION_MNIST_MIRRORS` (comma-separated base
URLs) replace those mirrors. CIFAR-10 must be placed by hand.

The "npz" dataset is images prepared elsewhere: one archive, anywhere, named by
`path` (config.data.path) rather than found in the data dir, written with

  np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)

(or np.savez_compressed): uint8 images [N, H, W] or [N, H, W, C], C = 1 or 3,
and integer labels [N]. It is never unpickled; see dvae_jax.data.npz.

The "image_folder" dataset is a folder of PNG/JPEG images, also named by `path`:
decoded once, resized, split by a seeded shuffle and cached as one uint8 .npz
under <data dir>/image_folder_cache/ (or `image_folder_cache_dir`); see
dvae_jax.data.image_folder.
"""

import logging
import os
import pathlib
from collections.abc import Sequence

from dvae_jax.data.cifar import load_cifar10_split
from dvae_jax.data.common import DataError, ImageData
from dvae_jax.data.download import download_idx, mirrors_for
from dvae_jax.data.idx import IDX_FILES, load_idx_split, split_files, verify
from dvae_jax.data.image_folder import ImageFolderOptions, load_image_folder_split
from dvae_jax.data.npz import load_npz_split
from dvae_jax.data.synthetic import make_synthetic
from dvae_jax.data.tfds_source import load_tfds_split

__all__ = ["DATASETS", "PATH_DATASETS", "DataError", "ImageData", "download", "load_split", "resolve_data_dir"]

DATASETS: tuple[str, ...] = ("mnist", "fashion_mnist", "cifar10", "synthetic", "synthetic_rgb", "npz", "image_folder")
# Datasets read from the file or folder that `path` names, not from the data dir.
PATH_DATASETS: tuple[str, ...] = ("npz", "image_folder")
SPLITS: tuple[str, ...] = ("train", "test")
SOURCES: tuple[str, ...] = ("raw", "tfds")
_DISPLAY = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}

_log = logging.getLogger(__name__)


def resolve_data_dir(data_dir: str | None) -> pathlib.Path:
  """Returns data_dir if given (non-empty), else $DVAE_DATA_DIR, else ~/.cache/dvae_jax/data."""
  chosen = data_dir or os.environ.get("DVAE_DATA_DIR") or "~/.cache/dvae_jax/data"
  return pathlib.Path(chosen).expanduser()


def _check_choice(kind: str, value: str, valid: Sequence[str]) -> None:
  if value not in valid:
    raise DataError(f"Unknown {kind} {value!r}; expected one of: {', '.join(valid)}.")


def download(name: str, data_dir: str | None = None, *, mirrors: Sequence[str] | None = None) -> list[pathlib.Path]:
  """Fetches the raw files of `name` into <data_dir>/<name>/ and verifies their sha256.

  Files already present and verified are not fetched again; a present file
  that fails verification is replaced. Each file is written to a temporary
  name and renamed only once its sha256 matches.

  Args:
    name: "mnist" or "fashion_mnist" (CIFAR-10 must be placed by hand).
    data_dir: data dir, resolved by `resolve_data_dir`.
    mirrors: base URLs tried in order; default: $DVAE_<NAME>_MIRRORS if set,
      else the official mirrors.

  Returns:
    Paths of the verified files.
  """
  _check_choice("dataset", name, DATASETS)
  if name == "npz":
    raise DataError(
      "The npz dataset has nothing to download: it reads the archive that config.data.path names, "
      "written with np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)."
    )
  if name == "image_folder":
    raise DataError(
      "The image_folder dataset has nothing to download: it reads the folder of PNG/JPEG images that "
      "config.data.path names."
    )
  if name not in IDX_FILES:
    raise DataError(
      f"Automatic download of {name!r} is not supported; only {', '.join(IDX_FILES)} can be "
      'downloaded. For cifar10, download the official "CIFAR-10 binary version" tarball '
      "(https://www.cs.toronto.edu/~kriz/cifar.html) and extract it into "
      f"{resolve_data_dir(data_dir) / 'cifar10'}. Synthetic datasets need no files."
    )
  return download_idx(name, resolve_data_dir(data_dir) / name, mirrors)


def _ensure_idx_files(name: str, splits: Sequence[str], root: pathlib.Path, allow_download: bool) -> None:
  """Makes sure the IDX files of `splits` exist, fetching them if allowed."""
  directory = root / name
  wanted = [f for split in splits for f in split_files(split)]
  missing = [f for f in wanted if not (directory / f).is_file()]
  if not missing:
    return
  if not allow_download:
    raise DataError(
      f"{_DISPLAY[name]} files not found: {', '.join(missing)} missing from "
      f"{directory}. Run `dvae data download {name}` to fetch them, or point "
      "--config.data.dir / $DVAE_DATA_DIR at a data dir that has them."
    )
  mirrors = mirrors_for(name)
  _log.warning(
    "%s files not found in %s; downloading from %s into %s (run `dvae data download %s` to do this explicitly)",
    _DISPLAY[name],
    directory,
    mirrors[0],
    directory,
    name,
  )
  try:
    download_idx(name, directory, mirrors)
  except DataError as e:
    raise DataError(
      f"{_DISPLAY[name]} files not found in {directory} ({', '.join(missing)}), and downloading them failed. "
      f"If you have them, point $DVAE_DATA_DIR or --config.data.dir at the folder that holds {name}/ (now: "
      f"{root}). {e}"
    ) from None


def load_split(
  name: str,
  split: str,
  *,
  data_dir: str | None = None,
  source: str = "raw",
  download: bool = True,  # pylint: disable=redefined-outer-name
  path: str | None = None,
  image_folder: ImageFolderOptions | None = None,
  image_folder_cache_dir: str | None = None,
) -> ImageData:
  """Loads one split of a dataset as NHWC uint8 images and int32 labels.

  Args:
    name: one of DATASETS.
    split: "train" or "test".
    data_dir: data dir, resolved by `resolve_data_dir`.
    source: "raw" (parse the files with numpy) or "tfds" (tensorflow-datasets,
      prepared offline from the same raw files). Synthetic data ignores it.
    download: fetch missing MNIST / Fashion-MNIST files on first use.
    path: the .npz file of the "npz" dataset (required for it, ignored by the
      others); a relative path is taken from the current directory, and ~ is
      expanded. The "npz" dataset ignores `data_dir` and `source`.
      For "image_folder", the folder of images (required; same path rules).
    image_folder: how the "image_folder" dataset decodes and splits its images
      (None: the defaults; ignored by the others).
    image_folder_cache_dir: where "image_folder" keeps its decoded cache;
      default <data_dir>/image_folder_cache. It ignores `source`.

  Returns:
    ImageData: images uint8 [N, H, W, C], labels int32 [N].

  Raises:
    DataError: on unknown arguments, missing, corrupt or malformed files.
  """
  _check_choice("dataset", name, DATASETS)
  _check_choice("split", split, SPLITS)
  _check_choice("source", source, SOURCES)
  if name.startswith("synthetic"):
    return make_synthetic(name, split)
  if name == "npz":
    if not path:
      raise DataError(
        "The npz dataset needs its file: config.data.path must name the .npz file, written with "
        "np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)."
      )
    # absolute() so that error messages show where the file was looked for.
    return load_npz_split(pathlib.Path(path).expanduser().absolute(), split)
  if name == "image_folder":
    if not path:
      raise DataError(
        "The image_folder dataset needs its folder: config.data.path must name a directory of PNG or JPEG images."
      )
    cache_dir = image_folder_cache_dir or resolve_data_dir(data_dir) / "image_folder_cache"
    return load_image_folder_split(pathlib.Path(path), split, cache_dir=cache_dir, options=image_folder)
  root = resolve_data_dir(data_dir)
  if source == "tfds":
    if name in IDX_FILES:
      # TFDS prepares every split at once, so it needs all four files.
      _ensure_idx_files(name, SPLITS, root, download)
      for filename in IDX_FILES[name]:
        verify(name, root / name / filename)
    return load_tfds_split(name, split, root)
  if name in IDX_FILES:
    _ensure_idx_files(name, (split,), root, download)
    return load_idx_split(name, root / name, split)
  return load_cifar10_split(root / name, split)
