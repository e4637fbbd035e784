"""Deterministic synthetic image datasets that need no files or network."""

import numpy as np

from dvae_jax.data.common import ImageData

NUM_CLASSES = 10
_SIZES = {"train": 1024, "test": 256}
_SEEDS = {"train": 0, "test": 1}
_SHAPES = {"synthetic": (28, 28, 1), "synthetic_rgb": (32, 32, 3)}


def make_synthetic(name: str, split: str) -> ImageData:
  """Builds a split of "synthetic" (28x28x1) or "synthetic_rgb" (32x32x3).

  Class k is a bright bar through the image centre at angle k*18 degrees, so
  classes are separable yet need real spatial features. Each image gets a
  small random shift, rotation and length change plus pixel noise; RGB
  images get a random (class-independent) colour.

  Args:
    name: "synthetic" or "synthetic_rgb".
    split: "train" (1024 images, seed 0) or "test" (256 images, seed 1).

  Returns:
    ImageData with images uint8 [N, H, W, C] and labels int32 [N].
  """
  height, width, channels = _SHAPES[name]
  n = _SIZES[split]
  rng = np.random.default_rng(_SEEDS[split])
  labels = np.arange(n, dtype=np.int32) % NUM_CLASSES
  rng.shuffle(labels)

  angle = labels * (np.pi / NUM_CLASSES) + rng.uniform(-0.08, 0.08, n)
  centre = rng.uniform(-2.0, 2.0, (n, 2)) + (np.array([height, width]) - 1) / 2
  half_length = rng.uniform(0.28, 0.38, n) * min(height, width)
  half_width = rng.uniform(1.0, 1.8, n)

  rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
  dy = rows[None] - centre[:, 0, None, None]
  dx = cols[None] - centre[:, 1, None, None]
  cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
  along = dx * cos + dy * sin
  across = np.abs(dy * cos - dx * sin)
  # Soft edges (one pixel of ramp) keep the images anti-aliased like MNIST strokes.
  bar = np.clip(half_width[:, None, None] + 0.5 - across, 0.0, 1.0)
  bar *= np.clip(half_length[:, None, None] + 0.5 - np.abs(along), 0.0, 1.0)

  colour = rng.uniform(0.5, 1.0, (n, channels)) if channels > 1 else np.ones((n, 1))
  image = bar[..., None] * colour[:, None, None, :]
  image += rng.normal(0.0, 0.04, image.shape)
  images = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
  return ImageData(images=images, labels=labels)
