"""Types shared by every data source, and the memory layouts images can be fed in."""

import dataclasses

import numpy as np


class DataError(RuntimeError):
  """A dataset could not be found, fetched, verified or parsed.

  The message says what was expected, what was found and what to do.
  """


@dataclasses.dataclass(frozen=True)
class ImageData:
  """One split of an image dataset.

  Attributes:
    images: uint8 array [N, H, W, C] (NHWC; C=1 for MNIST, C=3 for CIFAR).
    labels: int32 array [N].
  """

  images: np.ndarray
  labels: np.ndarray


# How images are laid out for the network (data.layout), every one an array [..., H, W, C]:
#   "hwc"           the true images (the default)
#   "reshaped_chw"  the layout xuganyu96/VAE-GAN-learnable-loss fed its face networks: its
#                   utils/convert_to_NDArray.py *reshapes* each H x W x C image to C x H x W instead of
#                   transposing it, so its networks, which read C x H x W, saw channel c, row h, column w
#                   at the flat position c H W + h W + w of the RGB-interleaved pixels; here that array,
#                   expressed as H x W x C (`to_layout`). Every display of the original undoes it with the
#                   inverse reshape (`from_layout`).
LAYOUTS: tuple[str, ...] = ("hwc", "reshaped_chw")


def _check_layout(layout: str) -> None:
  if layout not in LAYOUTS:
    raise DataError(f"unknown image layout {layout!r}; expected one of: {', '.join(LAYOUTS)}.")


def to_layout(images, layout: str):
  """True images [..., H, W, C] -> the images the network is fed, [..., H, W, C] (numpy or jax arrays).

  "reshaped_chw" is a fixed permutation of each image's H W C values: the flat values read as [C, H, W]
  (a reshape, not a transpose), then put in the NHWC convention. Output pixel (h, w) of channel c is
  the input's flat value c H W + h W + w, i.e. input pixel (q // W, q % W) of channel r, where
  (q, r) = divmod(c H W + h W + w, C). A grayscale image (C = 1) is unchanged.
  """
  _check_layout(layout)
  if layout == "hwc":
    return images
  *lead, height, width, channels = images.shape
  n = len(lead)
  seen_as_chw = images.reshape(*lead, channels, height, width)
  return seen_as_chw.transpose(*range(n), n + 1, n + 2, n)


def from_layout(images, layout: str):
  """The inverse of `to_layout`: what the network is fed (or outputs) [..., H, W, C] -> true images, for
  display and for image metrics that look at neighbouring pixels."""
  _check_layout(layout)
  if layout == "hwc":
    return images
  *lead, height, width, channels = images.shape
  n = len(lead)
  as_chw = images.transpose(*range(n), n + 2, n, n + 1)
  return as_chw.reshape(*lead, height, width, channels)
