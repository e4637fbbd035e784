"""Tiling a batch of images into one array (plots.py draws and labels the grids)."""

import numpy as np


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
