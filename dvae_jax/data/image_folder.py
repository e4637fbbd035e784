"""A dataset read from a folder of PNG/JPEG images (anime faces, CelebA crops, any folder a user has).

Every non-hidden file under the folder, nested folders included, is a candidate; names starting with
"." (files or folders, e.g. .DS_Store, .git) are skipped unlisted, as operating-system metadata. Each
candidate is decoded once with Pillow and, in this order:

- converted to RGB (or to 8-bit grayscale with `channels=1`, Pillow's ITU-R 601-2 luma, the weights
  `preprocess` uses for `data.grayscale`). Grayscale images are repeated over the three channels;
  16-bit grayscale is scaled to 8 bits (/ 257). Transparency (RGBA, LA, or a palette or colour key
  with a transparent entry) is composited on white: the alpha is not dropped, because the colour
  under a transparent pixel is arbitrary (often black), and a white page is how such images are
  meant to be seen.
- centre-cropped to a square (side = the shorter side) if `center_crop`; otherwise a non-square
  image is stretched to the square.
- resized to `image_size` x `image_size` with a Lanczos (default) or area (box) filter; an image
  already that size is left untouched.

Files that are not PNG or JPEG, or whose data is truncated or corrupt, are skipped and reported by
name and count in one logged warning (each time the folder is loaded, cache or not); a folder with
none readable is a DataError.

Labels: when every image lies in a first-level subfolder (`<folder>/<class>/.../x.png`), the
subfolder's name is its class, sorted names numbered 0..C-1 (the names are kept with the cache, see
`FolderImages.classes`); otherwise (any image directly in the folder) every label is 0.

Split: the readable images, in sorted order of their relative paths, are shuffled by
`np.random.default_rng(split_seed)`; the first round(test_fraction * N) are the test split and the
rest the training split (each kept in sorted order). The split has its own seed, not the training
seed, so runs with different training seeds are measured on the same test images.

Layout: each split's images are then laid out as `layout` says (`common.to_layout`): "hwc", the true
images, or "reshaped_chw", the scrambled layout xuganyu96/VAE-GAN-learnable-loss fed its face networks
(each image's values reshaped, not transposed, to channels first). The cache holds the true images.

Cache: the decoded images of the whole folder go to one uncompressed .npz (uint8 images, int32
labels, the relative paths, the class names and the skipped files as string arrays: nothing is
pickled) in the cache dir, named `<folder name>-<key>.npz`. The key is a sha256 over the folder's
absolute path, the sorted relative paths of every candidate file with their sizes and mtimes, and
the decoding options (size, crop, channels, filter), so a file added, removed, replaced or touched
means a new key and a fresh decode: a cache is never silently stale. The split is not part of the
key; it is cut from the cached images on every load. A cache file that cannot be read is decoded
again (with a warning); a cache dir that cannot be written costs a warning, not the run.
"""

import concurrent.futures
import dataclasses
import hashlib
import json
import logging
import os
import pathlib
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image, UnidentifiedImageError

from dvae_jax.data.common import LAYOUTS, DataError, ImageData, to_layout

IMAGE_FORMATS: tuple[str, ...] = ("PNG", "JPEG")
RESIZE_FILTERS: dict[str, Image.Resampling] = {"lanczos": Image.Resampling.LANCZOS, "area": Image.Resampling.BOX}
CHANNELS: tuple[int, ...] = (1, 3)
# Part of the cache key: bump it when decoding changes, so caches written by older code are not reused.
CACHE_FORMAT = 1
# What Pillow raises on a file it cannot identify (OSError), a truncated or corrupt stream (OSError,
# SyntaxError for a broken PNG chunk, EOFError, struct.error, zlib.error, ValueError) or an image
# too large to be trusted (DecompressionBombError).
DECODE_ERRORS = (OSError, SyntaxError, EOFError, ValueError, struct.error, zlib.error, Image.DecompressionBombError)
_MAX_LISTED = 100  # skipped files named in the warning; the count is always the full one
_WHITE = (255, 255, 255, 255)
_EXPECTED = "a directory of PNG or JPEG images (nested folders allowed; class subfolders give labels)"

_log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ImageFolderOptions:
  """How a folder's images are decoded (these are part of the cache key), split and laid out (these are not)."""

  image_size: int = 64
  center_crop: bool = False
  channels: int = 3
  resize_filter: str = "lanczos"
  test_fraction: float = 0.2
  split_seed: int = 0
  layout: str = "hwc"  # one of common.LAYOUTS

  def __post_init__(self):
    if self.layout not in LAYOUTS:
      raise DataError(f"image layout {self.layout!r}: expected one of {', '.join(LAYOUTS)} (config.data.layout).")

  def decoding(self) -> dict[str, object]:
    return {
      "image_size": self.image_size,
      "center_crop": self.center_crop,
      "channels": self.channels,
      "resize_filter": self.resize_filter,
    }


@dataclasses.dataclass(frozen=True)
class FolderImages:
  """Every readable image of a folder, in sorted order of relative path."""

  images: np.ndarray  # uint8 [N, S, S, C]
  labels: np.ndarray  # int32 [N]
  files: tuple[str, ...]  # [N] relative paths, "/"-separated
  classes: tuple[str, ...]  # class names, label i = classes[i]; () when the images are not in class subfolders
  skipped: tuple[str, ...]  # "relative/path (why)" for each file that was not a readable image


def _with_alpha_on_white(image: Image.Image) -> Image.Image:
  rgba = image.convert("RGBA")
  return Image.alpha_composite(Image.new("RGBA", rgba.size, _WHITE), rgba).convert("RGB")


def _to_channels(image: Image.Image, channels: int) -> Image.Image:
  """RGB, or 8-bit grayscale for channels == 1, from any mode Pillow gives PNG or JPEG files."""
  if image.mode.startswith("I"):
    # 16-bit grayscale PNG ("I;16" or "I"): Pillow's convert("L") would clip at 255, not scale.
    levels = np.asarray(image).astype(np.float64) / 257.0
    image = Image.fromarray(np.clip(np.round(levels), 0, 255).astype(np.uint8), "L")
  if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
    image = _with_alpha_on_white(image)
  return image.convert("L" if channels == 1 else "RGB")


def _center_square(image: Image.Image) -> Image.Image:
  """The central square; with an odd difference of sides, the extra row or column is cut at the end."""
  width, height = image.size
  side = min(width, height)
  left, top = (width - side) // 2, (height - side) // 2
  return image.crop((left, top, left + side, top + side))


def decode_image(path: pathlib.Path, options: ImageFolderOptions) -> np.ndarray:
  """One file -> uint8 [S, S, C]; raises one of DECODE_ERRORS if it is not a readable PNG or JPEG."""
  with Image.open(path, formats=IMAGE_FORMATS) as opened:
    opened.load()  # Image.open only reads the header: truncated data would surface later, not here
    image = _to_channels(opened, options.channels)
  if options.center_crop:
    image = _center_square(image)
  size = (options.image_size, options.image_size)
  if image.size != size:
    image = image.resize(size, RESIZE_FILTERS[options.resize_filter])
  array = np.asarray(image, dtype=np.uint8)
  return array[..., None] if array.ndim == 2 else array


def _check_folder(folder: pathlib.Path) -> None:
  if not folder.exists():
    raise DataError(f"image folder {folder} not found; expected {_EXPECTED}, named by --config.data.path.")
  if not folder.is_dir():
    raise DataError(f"image folder path {folder} is a file, not a folder; expected {_EXPECTED}.")


def list_files(folder: pathlib.Path) -> list[pathlib.Path]:
  """Every non-hidden regular file under `folder` (symlinked folders are not followed), sorted by relative path."""
  found = []
  for directory, subdirectories, names in os.walk(folder):
    subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
    found.extend(pathlib.Path(directory, name) for name in names if not name.startswith("."))
  files = [path for path in found if path.is_file()]
  return sorted(files, key=lambda path: path.relative_to(folder).as_posix())


def cache_key(folder: pathlib.Path, files: list[pathlib.Path], options: ImageFolderOptions) -> str:
  """sha256 of the folder, each file's relative path, size and mtime, and the decoding options."""
  listing = []
  for path in files:
    stat = path.stat()
    listing.append([path.relative_to(folder).as_posix(), stat.st_size, stat.st_mtime_ns])
  record = {"format": CACHE_FORMAT, "folder": str(folder), "options": options.decoding(), "files": listing}
  return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def _labels(files: list[str]) -> tuple[np.ndarray, tuple[str, ...]]:
  """Class-subfolder labels if every image is in a first-level subfolder, else all 0 and no class names."""
  if not all("/" in name for name in files):
    return np.zeros(len(files), np.int32), ()
  classes = tuple(sorted({name.split("/", 1)[0] for name in files}))
  index = {name: i for i, name in enumerate(classes)}
  return np.array([index[name.split("/", 1)[0]] for name in files], np.int32), classes


def _decode_all(folder: pathlib.Path, files: list[pathlib.Path], options: ImageFolderOptions) -> FolderImages:
  from tqdm.auto import tqdm  # pylint: disable=g-import-not-at-top

  def attempt(path: pathlib.Path) -> np.ndarray | str:
    try:
      return decode_image(path, options)
    except UnidentifiedImageError:
      return "not a PNG or JPEG image"
    except DECODE_ERRORS as e:
      return f"unreadable: {type(e).__name__}: {e}"

  # Pillow releases the GIL while decoding and resizing, so threads overlap the work of several files.
  workers = min(8, os.cpu_count() or 1)
  with concurrent.futures.ThreadPoolExecutor(workers) as pool:
    results = list(
      tqdm(pool.map(attempt, files), total=len(files), desc=f"decoding {folder.name}", unit="img", disable=None)
    )
  names = [path.relative_to(folder).as_posix() for path in files]
  decoded = [(name, result) for name, result in zip(names, results, strict=True) if not isinstance(result, str)]
  skipped = tuple(f"{name} ({result})" for name, result in zip(names, results, strict=True) if isinstance(result, str))
  if not decoded:
    listed = "; ".join(skipped[:5]) + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else "")
    raise DataError(
      f"image folder {folder}: none of its {len(files)} files is a readable PNG or JPEG image ({listed}); "
      f"expected {_EXPECTED}."
    )
  readable = [name for name, _ in decoded]
  labels, classes = _labels(readable)
  images = np.stack([array for _, array in decoded])
  return FolderImages(images=images, labels=labels, files=tuple(readable), classes=classes, skipped=skipped)


def _save(path: pathlib.Path, key: str, data: FolderImages) -> None:
  """Writes the cache under a temporary name and renames it, so a killed run leaves no half-written cache."""
  temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
  try:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(temporary, "wb") as f:
      np.savez(
        f,
        key=np.array(key),
        images=data.images,
        labels=data.labels,
        # Unicode arrays (dtype <U...), never object arrays: the cache is read back without pickle.
        files=np.array(data.files, dtype=str),
        classes=np.array(data.classes, dtype=str),
        skipped=np.array(data.skipped, dtype=str),
      )
    os.replace(temporary, path)
  except OSError as e:
    temporary.unlink(missing_ok=True)
    _log.warning("could not write the image-folder cache %s (%s); the folder will be decoded again next time", path, e)


def _load(path: pathlib.Path, key: str) -> FolderImages | None:
  """The cached images if `path` holds a readable cache written for `key`, else None."""
  if not path.is_file():
    return None
  try:
    with np.load(path, allow_pickle=False) as cache:
      if str(cache["key"]) != key:
        raise ValueError(f"it holds key {str(cache['key'])[:16]}..., not {key[:16]}...")
      return FolderImages(
        images=cache["images"],
        labels=cache["labels"].astype(np.int32),
        files=tuple(cache["files"].tolist()),
        classes=tuple(cache["classes"].tolist()),
        skipped=tuple(cache["skipped"].tolist()),
      )
  except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error) as e:
    _log.warning("image-folder cache %s is unreadable (%s: %s); decoding the folder again", path, type(e).__name__, e)
    return None


def _report_skipped(folder: pathlib.Path, data: FolderImages) -> None:
  if not data.skipped:
    return
  listed = "; ".join(data.skipped[:_MAX_LISTED])
  if len(data.skipped) > _MAX_LISTED:
    listed += f"; and {len(data.skipped) - _MAX_LISTED} more"
  _log.warning(
    "image folder %s: skipped %d of %d files, not readable PNG or JPEG images: %s",
    folder,
    len(data.skipped),
    len(data.skipped) + len(data.files),
    listed,
  )


def load_image_folder(
  folder: str | pathlib.Path, *, cache_dir: str | pathlib.Path, options: ImageFolderOptions | None = None
) -> FolderImages:
  """Every readable image of `folder`, decoded once and cached (see the module docstring).

  Args:
    folder: the image folder.
    cache_dir: where the cache file is kept (created if missing).
    options: decoding options (the split fields are not used here); None: the defaults.

  Returns:
    FolderImages: images uint8 [N, S, S, C] in sorted order of relative path, labels, names.

  Raises:
    DataError: if `folder` is missing, is a file, holds no files, or holds no readable image.
  """
  options = options or ImageFolderOptions()
  folder = pathlib.Path(folder).expanduser().absolute()
  _check_folder(folder)
  files = list_files(folder)
  if not files:
    raise DataError(f"image folder {folder} holds no files (hidden ones aside); expected {_EXPECTED}.")
  key = cache_key(folder, files, options)
  path = pathlib.Path(cache_dir).expanduser().absolute() / f"{folder.name}-{key[:16]}.npz"
  data = _load(path, key)
  if data is None:
    data = _decode_all(folder, files, options)
    _save(path, key, data)
  _report_skipped(folder, data)
  return data


def split_indices(num_images: int, options: ImageFolderOptions) -> dict[str, np.ndarray]:
  """{"train", "test"}: sorted indices into the sorted file list, from a shuffle seeded by split_seed."""
  num_test = int(round(options.test_fraction * num_images))
  order = np.random.default_rng(options.split_seed).permutation(num_images)
  return {"test": np.sort(order[:num_test]), "train": np.sort(order[num_test:])}


def load_image_folder_split(
  folder: str | pathlib.Path,
  split: str,
  *,
  cache_dir: str | pathlib.Path,
  options: ImageFolderOptions | None = None,
) -> ImageData:
  """One split ("train" or "test") of an image folder as ImageData (uint8 [N, S, S, C], int32 labels), its
  images in `options.layout`.

  Raises:
    DataError: as `load_image_folder`, and when the split would leave the training or test split empty.
  """
  options = options or ImageFolderOptions()
  if split not in ("train", "test"):
    raise DataError(f"Unknown split {split!r}; expected one of: train, test.")
  data = load_image_folder(folder, cache_dir=cache_dir, options=options)
  index = split_indices(len(data.files), options)
  if not (len(index["train"]) and len(index["test"])):
    raise DataError(
      f"image folder {pathlib.Path(folder).expanduser().absolute()} has {len(data.files)} readable images; "
      f"test_fraction={options.test_fraction} leaves {len(index['train'])} for training and "
      f"{len(index['test'])} for testing. Expected at least one image in each: add images or change "
      "--config.data.test_fraction."
    )
  chosen = index[split]
  images = np.ascontiguousarray(to_layout(data.images[chosen], options.layout))
  return ImageData(images=images, labels=data.labels[chosen])
