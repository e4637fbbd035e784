"""Image grids as PNG files (Pillow)."""

import pathlib

import numpy as np
from PIL import Image


def tile(images: np.ndarray, *, columns: int, pad: int = 2) -> np.ndarray:
  """[N, H, W, C] floats in [0, 1] -> one uint8 image with `columns` images per row."""
  images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
  n, h, w, c = images.shape
  rows = -(-n // columns)
  canvas = np.ones((rows * (h + pad) + pad, columns * (w + pad) + pad, c), np.float32)
  for i, image in enumerate(images):
    r, col = divmod(i, columns)
    canvas[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + col * (w + pad) : pad + col * (w + pad) + w] = image
  canvas = np.round(canvas * 255.0).astype(np.uint8)
  return canvas[..., 0] if c == 1 else canvas


def save_grid(path: str | pathlib.Path, images: np.ndarray, *, columns: int) -> pathlib.Path:
  path = pathlib.Path(path)
  Image.fromarray(tile(images, columns=columns)).save(path)
  return path


def save_reconstruction_grid(
  path: str | pathlib.Path, inputs: np.ndarray, reconstructions: np.ndarray, *, columns: int = 8
) -> pathlib.Path:
  """Rows of inputs, each followed by the row of their reconstructions."""
  n = len(inputs) - len(inputs) % columns or len(inputs)
  columns = min(columns, n)
  pairs = []
  for start in range(0, n, columns):
    pairs += [inputs[start : start + columns], reconstructions[start : start + columns]]
  return save_grid(path, np.concatenate(pairs), columns=columns)
