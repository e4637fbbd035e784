"""Tests for the "image_folder" dataset: folders of PNG/JPEG images the tests write themselves."""

from __future__ import annotations

import json
import logging
import os
import pathlib

import numpy as np
import pytest
from PIL import Image

from dvae_jax.data import image_folder
from dvae_jax.data.common import from_layout, to_layout
from dvae_jax.data.image_folder import ImageFolderOptions, load_image_folder, load_image_folder_split
from dvae_jax.data.sources import DataError, download, load_split
from tests.helpers import dvae

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def _write(path: pathlib.Path, image: Image.Image | np.ndarray, format: str = "PNG") -> pathlib.Path:  # noqa: A002
  path.parent.mkdir(parents=True, exist_ok=True)
  (Image.fromarray(image) if isinstance(image, np.ndarray) else image).save(path, format)
  return path


def _stripes(*colours: tuple[int, int, int], width: int, height: int) -> np.ndarray:
  """uint8 [height, width * len(colours), 3]: vertical stripes of `width` columns each, left to right."""
  return np.concatenate([np.full((height, width, 3), colour, np.uint8) for colour in colours], axis=1)


def _load(folder: pathlib.Path, tmp_path: pathlib.Path, **options) -> image_folder.FolderImages:
  return load_image_folder(folder, cache_dir=tmp_path / "cache", options=ImageFolderOptions(**options))


def _one(tmp_path: pathlib.Path, image: Image.Image | np.ndarray, format: str = "PNG", **options) -> np.ndarray:  # noqa: A002
  """The single decoded image of a folder holding just `image`."""
  folder = tmp_path / "one"
  _write(folder / f"x.{format.lower()}", image, format)
  return _load(folder, tmp_path, **options).images[0]


@pytest.fixture
def decodes(monkeypatch) -> list[str]:
  """Records the name of every file decode_image is called on (the real decoder still runs)."""
  calls = []
  real = image_folder.decode_image

  def counting(path, options):
    calls.append(path.name)
    return real(path, options)

  monkeypatch.setattr(image_folder, "decode_image", counting)
  return calls


@pytest.mark.parametrize("resize_filter", ["lanczos", "area"])
def test_a_solid_colour_stays_that_colour(tmp_path, resize_filter):
  image = _one(tmp_path, Image.new("RGB", (13, 7), (200, 30, 40)), image_size=4, resize_filter=resize_filter)
  assert image.shape == (4, 4, 3) and image.dtype == np.uint8
  np.testing.assert_array_equal(image, np.full((4, 4, 3), (200, 30, 40), np.uint8))


def test_default_size_is_64():
  assert ImageFolderOptions().image_size == 64 and ImageFolderOptions().test_fraction == 0.2


def test_centre_crop_of_a_half_half_image(tmp_path):
  # 6 x 4 (W x H), red | blue: the central 4 x 4 square is columns 1..4, two red then two blue.
  image = _one(tmp_path, _stripes(RED, BLUE, width=3, height=4), image_size=4, center_crop=True)
  np.testing.assert_array_equal(image, _stripes(RED, BLUE, width=2, height=4))


def test_centre_crop_of_a_tall_image_keeps_the_middle_rows(tmp_path):
  # 2 x 6: rows 0-1 red, 2-3 green, 4-5 blue; the central 2 x 2 square is the green rows.
  tall = np.concatenate([np.full((2, 2, 3), c, np.uint8) for c in (RED, GREEN, BLUE)], axis=0)
  image = _one(tmp_path, tall, image_size=2, center_crop=True)
  np.testing.assert_array_equal(image, np.full((2, 2, 3), GREEN, np.uint8))


def test_without_crop_a_wide_image_is_squeezed_with_area_averages(tmp_path):
  # 12 x 4 red | green | blue stripes of 4 columns, to 4 x 4 with the box filter: each output column
  # averages 3 input columns: (R, R, R), (R, G, G), (G, G, B), (B, B, B).
  image = _one(tmp_path, _stripes(RED, GREEN, BLUE, width=4, height=4), image_size=4, resize_filter="area")
  expected = np.array([[255, 0, 0], [85, 170, 0], [0, 170, 85], [0, 0, 255]], np.uint8)
  np.testing.assert_array_equal(image, np.broadcast_to(expected, (4, 4, 3)))


def test_lanczos_downscale_keeps_halves_away_from_the_edge(tmp_path):
  image = _one(tmp_path, _stripes(RED, BLUE, width=32, height=32), image_size=16)
  np.testing.assert_array_equal(image[:, :4], np.full((16, 4, 3), RED, np.uint8))
  np.testing.assert_array_equal(image[:, -4:], np.full((16, 4, 3), BLUE, np.uint8))
  # Red fades into blue across the seam: no channel outside [0, 255] wrapped around.
  assert image[0, 7, 0] > image[0, 8, 0]


def test_grayscale_becomes_rgb_or_stays_one_channel(tmp_path):
  gray = Image.new("L", (4, 4), 77)
  np.testing.assert_array_equal(_one(tmp_path / "rgb", gray, image_size=4), np.full((4, 4, 3), 77, np.uint8))
  one = _one(tmp_path / "gray", gray, image_size=4, channels=1)
  np.testing.assert_array_equal(one, np.full((4, 4, 1), 77, np.uint8))


def test_colour_to_one_channel_is_the_luma_preprocess_uses(tmp_path):
  one = _one(tmp_path, Image.new("RGB", (4, 4), (200, 30, 40)), image_size=4, channels=1)
  # 0.299 * 200 + 0.587 * 30 + 0.114 * 40 = 81.97
  np.testing.assert_array_equal(one, np.full((4, 4, 1), 82, np.uint8))


def test_sixteen_bit_grayscale_is_scaled_not_clipped(tmp_path):
  levels = np.array([[0, 257 * 100], [257 * 200, 65535]], np.uint16)
  image = _one(tmp_path, Image.fromarray(levels), image_size=2)
  np.testing.assert_array_equal(image[..., 0], [[0, 100], [200, 255]])


def test_transparency_is_composited_on_white(tmp_path):
  rgba = np.zeros((2, 2, 4), np.uint8)
  rgba[0, 0] = (0, 0, 0, 0)  # transparent black -> white
  rgba[0, 1] = (255, 0, 0, 255)  # opaque red stays red
  rgba[1, :] = (255, 0, 0, 128)  # half-transparent red -> half-way to white
  image = _one(tmp_path / "rgba", Image.fromarray(rgba, "RGBA"), image_size=2)
  np.testing.assert_array_equal(image[0, 0], (255, 255, 255))
  np.testing.assert_array_equal(image[0, 1], (255, 0, 0))
  np.testing.assert_allclose(image[1, 0], (255, 127, 127), atol=1)
  la = Image.fromarray(np.array([[[50, 0], [50, 0]], [[50, 255], [50, 255]]], np.uint8), "LA")  # grey + alpha
  np.testing.assert_array_equal(_one(tmp_path / "la", la, image_size=2)[..., 0], [[255, 255], [50, 50]])


def test_jpeg_is_read(tmp_path):
  image = _one(tmp_path, Image.new("RGB", (16, 16), (200, 30, 40)), "JPEG", image_size=8)
  np.testing.assert_allclose(image.astype(int), np.full((8, 8, 3), (200, 30, 40)), atol=3)  # JPEG is lossy


def test_nested_folders_without_class_subfolders_are_all_label_0(tmp_path):
  folder = tmp_path / "faces"
  _write(folder / "top.png", Image.new("RGB", (4, 4), RED))
  _write(folder / "a" / "b" / "deep.png", Image.new("RGB", (4, 4), GREEN))
  _write(folder / "a" / "mid.jpg", Image.new("RGB", (4, 4), BLUE), "JPEG")
  data = _load(folder, tmp_path, image_size=4)
  assert data.files == ("a/b/deep.png", "a/mid.jpg", "top.png")  # sorted relative paths
  assert data.classes == () and data.labels.tolist() == [0, 0, 0] and data.labels.dtype == np.int32
  np.testing.assert_array_equal(data.images[:, 0, 0], [GREEN, data.images[1, 0, 0], RED])


def test_class_subfolders_give_sorted_labels(tmp_path):
  folder = tmp_path / "animals"
  for name in ("zebra/1.png", "cat/1.png", "cat/kittens/2.png", "dog/1.png"):
    _write(folder / name, Image.new("RGB", (4, 4), RED))
  data = _load(folder, tmp_path, image_size=4)
  assert data.classes == ("cat", "dog", "zebra")
  assert dict(zip(data.files, data.labels.tolist(), strict=True)) == {
    "cat/1.png": 0,
    "cat/kittens/2.png": 0,
    "dog/1.png": 1,
    "zebra/1.png": 2,
  }
  assert load_image_folder_split(folder, "train", cache_dir=tmp_path / "cache").labels.dtype == np.int32


def test_unreadable_and_non_image_files_are_skipped_and_reported_by_name(tmp_path, caplog):
  folder = tmp_path / "mixed"
  _write(folder / "good.png", Image.new("RGB", (4, 4), RED))
  noisy = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
  whole = _write(tmp_path / "whole.png", noisy).read_bytes()
  (folder / "sub").mkdir()
  (folder / "sub" / "truncated.png").write_bytes(whole[: len(whole) // 2])
  (folder / "notes.txt").write_text("not an image")
  (folder / "text.png").write_text("a text file named .png")
  _write(folder / "picture.gif", Image.new("RGB", (4, 4), RED), "GIF")
  (folder / ".DS_Store").write_bytes(b"\0\1")  # hidden: ignored, not reported
  with caplog.at_level(logging.WARNING, logger="dvae_jax.data.image_folder"):
    data = _load(folder, tmp_path, image_size=4)
  assert data.files == ("good.png",)
  [record] = caplog.records
  message = record.getMessage()
  assert "skipped 4 of 5 files" in message and str(folder) in message
  assert "sub/truncated.png (unreadable: OSError: image file is truncated" in message
  for name in ("notes.txt", "text.png", "picture.gif"):
    assert f"{name} (not a PNG or JPEG image)" in message
  assert ".DS_Store" not in message
  # The cache remembers them: a second load (no decoding) reports the same files again.
  caplog.clear()
  with caplog.at_level(logging.WARNING, logger="dvae_jax.data.image_folder"):
    assert _load(folder, tmp_path, image_size=4).skipped == data.skipped
  assert [r.getMessage() for r in caplog.records] == [message]


def test_a_folder_with_nothing_readable_is_an_error(tmp_path):
  folder = tmp_path / "junk"
  folder.mkdir()
  (folder / "a.txt").write_text("x")
  (folder / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # a PNG signature and nothing else
  with pytest.raises(DataError) as e:
    _load(folder, tmp_path)
  message = str(e.value)
  assert f"image folder {folder}: none of its 2 files is a readable PNG or JPEG image" in message
  assert "a.txt (not a PNG or JPEG image)" in message and "b.png (" in message
  assert "expected a directory of PNG or JPEG images" in message


@pytest.mark.parametrize(
  "make,message",
  [
    (lambda p: p, "image folder {p} not found; expected a directory of PNG or JPEG images"),
    (lambda p: p.write_text("x") and p, "image folder path {p} is a file, not a folder; expected a directory"),
    (lambda p: p.mkdir() or p, "image folder {p} holds no files (hidden ones aside); expected a directory"),
  ],
  ids=["missing", "file", "empty"],
)
def test_bad_folder_paths_are_clear_errors(tmp_path, make, message):
  path = make(tmp_path / "images")
  with pytest.raises(DataError) as e:
    _load(path, tmp_path)
  assert message.format(p=path) in str(e.value)


def test_a_split_left_empty_is_an_error(tmp_path):
  folder = tmp_path / "single"
  _write(folder / "x.png", Image.new("RGB", (4, 4), RED))
  with pytest.raises(DataError) as e:
    load_image_folder_split(folder, "train", cache_dir=tmp_path / "cache")
  assert "has 1 readable images; test_fraction=0.2 leaves 1 for training and 0 for testing" in str(e.value)
  assert "--config.data.test_fraction" in str(e.value)
  with pytest.raises(DataError, match="Unknown split 'valid'; expected one of: train, test"):
    load_image_folder_split(folder, "valid", cache_dir=tmp_path / "cache")


def test_load_split_needs_a_path_and_has_nothing_to_download(tmp_path):
  with pytest.raises(DataError, match="config.data.path must name a directory of PNG or JPEG images"):
    load_split("image_folder", "train", data_dir=str(tmp_path))
  with pytest.raises(DataError, match="image_folder dataset has nothing to download"):
    download("image_folder", str(tmp_path))


def _numbered_folder(folder: pathlib.Path, n: int) -> None:
  """n images, image i a solid grey of level i, so a split's images say which files it holds."""
  for i in range(n):
    _write(folder / f"{i:02d}.png", Image.new("L", (4, 4), i))


def _levels(data) -> list[int]:
  return data.images[:, 0, 0, 0].tolist()


def test_split_is_seeded_disjoint_and_complete(tmp_path):
  folder = tmp_path / "numbered"
  _numbered_folder(folder, 20)
  cache = tmp_path / "cache"

  def split(name: str, seed: int) -> list[int]:
    options = ImageFolderOptions(image_size=4, split_seed=seed)
    return _levels(load_image_folder_split(folder, name, cache_dir=cache, options=options))

  train, test = split("train", 0), split("test", 0)
  assert (len(train), len(test)) == (16, 4)
  assert sorted(train + test) == list(range(20)) and not set(train) & set(test)
  assert train == sorted(train) and test == sorted(test)
  assert split("test", 0) == test  # deterministic for a seed
  assert split("test", 1) != test  # and a different seed draws another split
  order = np.random.default_rng(0).permutation(20)  # the documented rule: the first 20% of the shuffle
  assert test == sorted(order[:4].tolist())
  quarter = ImageFolderOptions(image_size=4, test_fraction=0.25)
  assert len(load_image_folder_split(folder, "test", cache_dir=cache, options=quarter).labels) == 5


def test_reshaped_chw_is_the_originals_reshape_a_known_permutation():
  """xuganyu96/VAE-GAN-learnable-loss reshapes each H x W x C image to C x H x W: channel c of the network's
  input holds the flat values c H W ... (c + 1) H W - 1 of the RGB-interleaved pixels."""
  image = np.arange(2 * 2 * 3).reshape(1, 2, 2, 3)  # value = flat index h W C + w C + c
  fed = to_layout(image, "reshaped_chw")
  assert fed.shape == image.shape
  channels_first = fed[0].transpose(2, 0, 1)  # what the original's network read as C x H x W
  np.testing.assert_array_equal(channels_first, [[[0, 1], [2, 3]], [[4, 5], [6, 7]], [[8, 9], [10, 11]]])
  # So its "red" plane is the top-left pixel's R, G, B, then the next pixel's R, ...; the true planes are:
  np.testing.assert_array_equal(image[0].transpose(2, 0, 1)[0], [[0, 3], [6, 9]])
  # A non-square image: pixel (h, w) of channel c is the flat value c H W + h W + w.
  tall = np.arange(3 * 2 * 3).reshape(3, 2, 3)
  fed = to_layout(tall, "reshaped_chw")
  for h, w, c in np.ndindex(3, 2, 3):
    assert fed[h, w, c] == tall.reshape(-1)[c * 3 * 2 + h * 2 + w]
  assert sorted(fed.reshape(-1)) == sorted(tall.reshape(-1))  # a permutation of the values
  np.testing.assert_array_equal(to_layout(tall, "hwc"), tall)
  grey = np.arange(12).reshape(1, 3, 4, 1)
  np.testing.assert_array_equal(to_layout(grey, "reshaped_chw"), grey)  # one channel: nothing moves


def test_display_undoes_the_layout_as_the_originals_display_did():
  import jax.numpy as jnp

  images = np.random.default_rng(0).integers(0, 256, (4, 5, 6, 3), dtype=np.uint8)
  fed = to_layout(images, "reshaped_chw")
  assert not np.array_equal(fed, images)
  np.testing.assert_array_equal(from_layout(fed, "reshaped_chw"), images)
  np.testing.assert_array_equal(to_layout(from_layout(images, "reshaped_chw"), "reshaped_chw"), images)
  # The original displays a network output [C, H, W] with `.reshape((H, W, C))`: the same as from_layout.
  output_chw = fed[0].transpose(2, 0, 1)
  np.testing.assert_array_equal(from_layout(fed[:1], "reshaped_chw")[0], output_chw.reshape(5, 6, 3))
  # Leading axes of any number, and jax arrays (inside jit too) as well as numpy's.
  grid = images.reshape(2, 2, 5, 6, 3)
  np.testing.assert_array_equal(from_layout(to_layout(grid, "reshaped_chw"), "reshaped_chw"), grid)
  np.testing.assert_array_equal(np.asarray(to_layout(jnp.asarray(images), "reshaped_chw")), fed)
  with pytest.raises(DataError, match="unknown image layout 'chw'"):
    to_layout(images, "chw")


def test_a_split_in_the_originals_layout_is_the_true_split_reshaped(tmp_path, decodes):
  folder = tmp_path / "stripes"
  for i in range(5):
    _write(folder / f"{i}.png", _stripes(RED, GREEN, BLUE, (i, i, i), width=1, height=4))
  cache = tmp_path / "cache"
  true = load_image_folder_split(folder, "train", cache_dir=cache, options=ImageFolderOptions(image_size=4))
  decodes.clear()
  options = ImageFolderOptions(image_size=4, layout="reshaped_chw")
  fed = load_image_folder_split(folder, "train", cache_dir=cache, options=options)
  assert decodes == []  # the cache holds the true images: the layout is not decoding
  np.testing.assert_array_equal(fed.images, to_layout(true.images, "reshaped_chw"))
  np.testing.assert_array_equal(fed.labels, true.labels)
  assert fed.images.flags["C_CONTIGUOUS"]
  with pytest.raises(DataError, match="image layout 'chw'"):
    ImageFolderOptions(layout="chw")


def test_cache_is_reused_without_decoding(tmp_path, decodes):
  folder = tmp_path / "numbered"
  _numbered_folder(folder, 5)
  first = _load(folder, tmp_path, image_size=4)
  assert sorted(decodes) == [f"{i:02d}.png" for i in range(5)]
  [cache_file] = (tmp_path / "cache").iterdir()
  assert cache_file.name.startswith("numbered-") and cache_file.suffix == ".npz"
  with np.load(cache_file, allow_pickle=False) as cache:  # plain arrays: readable without pickle
    assert cache["images"].dtype == np.uint8 and cache["images"].shape == (5, 4, 4, 3)
  decodes.clear()
  second = _load(folder, tmp_path, image_size=4)
  assert decodes == []
  np.testing.assert_array_equal(second.images, first.images)
  assert second.files == first.files


def test_cache_is_invalidated_when_the_folder_or_options_change(tmp_path, decodes):
  folder = tmp_path / "numbered"
  _numbered_folder(folder, 3)
  _load(folder, tmp_path, image_size=4)

  def reloaded(**options) -> list[int]:
    decodes.clear()
    data = _load(folder, tmp_path, **{"image_size": 4, **options})
    assert len(decodes) == len(data.files) + len(data.skipped)  # decoded afresh, every file
    return _levels(data)

  _write(folder / "03.png", Image.new("L", (4, 4), 3))  # a file added
  assert reloaded() == [0, 1, 2, 3]
  _write(folder / "01.png", Image.new("L", (4, 4), 9))  # a file replaced (new size or mtime)
  os.utime(folder / "01.png", ns=(0, 123_456_789))
  assert reloaded() == [0, 9, 2, 3]
  os.utime(folder / "01.png", ns=(0, 987_654_321))  # only touched: same bytes, new mtime
  assert reloaded() == [0, 9, 2, 3]
  (folder / "02.png").unlink()  # a file removed
  assert reloaded() == [0, 9, 3]
  assert reloaded(image_size=2) == [0, 9, 3]  # another size is another cache
  assert reloaded(center_crop=True) == [0, 9, 3]
  assert reloaded(channels=1) == [0, 9, 3]
  decodes.clear()
  _load(folder, tmp_path, image_size=4, test_fraction=0.5, split_seed=3)  # the split is not decoding
  assert decodes == []


def test_unreadable_cache_is_decoded_again(tmp_path, decodes, caplog):
  folder = tmp_path / "numbered"
  _numbered_folder(folder, 2)
  _load(folder, tmp_path, image_size=4)
  [cache_file] = (tmp_path / "cache").iterdir()
  cache_file.write_bytes(cache_file.read_bytes()[:100])
  decodes.clear()
  with caplog.at_level(logging.WARNING, logger="dvae_jax.data.image_folder"):
    assert _levels(_load(folder, tmp_path, image_size=4)) == [0, 1]
  assert len(decodes) == 2
  assert f"image-folder cache {cache_file} is unreadable" in caplog.text
  decodes.clear()
  _load(folder, tmp_path, image_size=4)  # and the rewritten cache is used again
  assert decodes == []


def test_load_split_caches_under_the_data_dir_by_default(tmp_path):
  folder = tmp_path / "numbered"
  _numbered_folder(folder, 10)
  options = ImageFolderOptions(image_size=4)
  data = load_split("image_folder", "test", data_dir=str(tmp_path / "data"), path=str(folder), image_folder=options)
  assert data.images.shape == (2, 4, 4, 3) and data.labels.tolist() == [0, 0]
  assert len(list((tmp_path / "data" / "image_folder_cache").glob("numbered-*.npz"))) == 1


def test_dvae_train_on_a_folder_of_real_mnist_pngs(tmp_path, shared_data):
  """64 real MNIST test images written as PNG in class folders, trained for a few steps by `dvae train`."""
  mnist = load_split("mnist", "test", data_dir=str(shared_data), download=False)
  folder = tmp_path / "mnist_png"
  for i in range(64):
    _write(folder / str(mnist.labels[i]) / f"{i:03d}.png", mnist.images[i, :, :, 0])
  workdir, data_dir = tmp_path / "run", tmp_path / "data"
  result = dvae(
    "train",
    "--config",
    "experiments/mnist_vae_flax.py:smoke",
    "--workdir",
    str(workdir),
    "--config.data.name=image_folder",
    f"--config.data.path={folder}",
    "--config.data.invert=False",
    "--config.data.image_size=28",
    "--config.data.image_channels=1",
    "--config.train.batch_size=16",
    "--config.train.progress_bar=False",
    data_dir=data_dir,
  )
  assert result.returncode == 0, result.stderr
  # 64 images: 13 test (20%), 51 in the training file, of which 5 validation (10%) and 46 training,
  # so 2 steps of 16 per epoch, 2 epochs.
  records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  assert records[-1]["split"] == "valid" and records[-1]["step"] == 4 and records[-1]["epoch"] == 2
  assert np.isfinite(records[-1]["neg_elbo_nats"])
  [cache_file] = (data_dir / "image_folder_cache").glob("mnist_png-*.npz")
  with np.load(cache_file, allow_pickle=False) as cache:
    # 28 x 28 one-channel PNGs come back byte for byte, with the digit folders as classes.
    classes = cache["classes"].tolist()
    assert classes == sorted({str(label) for label in mnist.labels[:64]})
    order = [int(pathlib.PurePosixPath(name).stem) for name in cache["files"].tolist()]
    np.testing.assert_array_equal(cache["images"], mnist.images[order])
    np.testing.assert_array_equal(cache["labels"], [classes.index(str(label)) for label in mnist.labels[order]])
