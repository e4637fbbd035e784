"""images.py: a batch tiled into one image, row by row, on a white canvas."""

import numpy as np

from dvae_jax.images import tile


def test_tile_lays_out_the_images_in_rows_on_a_white_canvas():
  images = np.zeros((3, 2, 2, 1), np.float32)
  images[1], images[2] = 1.0, 0.5
  grid = tile(images, columns=2, pad=1)
  assert grid.shape == (7, 7) and grid.dtype == np.uint8  # 2 x 2 cells of 2 x 2 pixels, 1 pixel apart and around
  np.testing.assert_array_equal(grid[1:3, 1:3], 0)  # the first image, top left
  np.testing.assert_array_equal(grid[1:3, 4:6], 255)  # the second, beside it
  np.testing.assert_array_equal(grid[4:6, 1:3], 128)  # the third starts the second row
  np.testing.assert_array_equal(grid[4:6, 4:6], 255)  # an empty cell stays canvas
  assert (grid[0] == 255).all() and (grid[:, 3] == 255).all()  # the padding


def test_tile_keeps_colour_and_clips_to_the_unit_interval():
  images = np.stack([np.full((2, 3, 3), -1.0), np.full((2, 3, 3), 2.0)])
  images[0, 0, 0] = (1.0, 0.0, 0.0)
  grid = tile(images, columns=2, pad=0)
  assert grid.shape == (2, 6, 3)
  np.testing.assert_array_equal(grid[0, 0], [255, 0, 0])
  np.testing.assert_array_equal(grid[1, :3], 0)  # -1 clipped to 0
  np.testing.assert_array_equal(grid[:, 3:], 255)  # 2 clipped to 1
