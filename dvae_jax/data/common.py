"""Types shared by every data source."""

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
