"""Loading through tensorflow-datasets, prepared offline from local raw files."""

import os
import pathlib

import numpy as np

from dvae_jax.data.common import DataError, ImageData

TFDS_NAMES = {"mnist": "mnist", "fashion_mnist": "fashion_mnist", "cifar10": "cifar10"}
# Files TFDS looks up by name in manual_dir before it would try the network.
TFDS_MANUAL_FILES = {
  "mnist": (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
  ),
  "cifar10": ("cifar-10-binary.tar.gz",),
}
TFDS_MANUAL_FILES["fashion_mnist"] = TFDS_MANUAL_FILES["mnist"]


def load_tfds_split(name: str, split: str, data_dir: pathlib.Path) -> ImageData:
  """Loads a split via TFDS, preparing it from <data_dir>/<name>/ without network.

  TFDS's DownloadManager uses a file from `manual_dir` whenever one has the
  file name of a URL it would download, so pointing `manual_dir` at the raw
  folder makes preparation offline. To guarantee that it never falls back to
  downloading, this function refuses to prepare unless every such file is
  present. The prepared dataset is cached under <data_dir>/tfds/.

  Args:
    name: "mnist", "fashion_mnist" or "cifar10". For cifar10 the manual dir
      must hold the official cifar-10-binary.tar.gz (not extracted).
    split: "train" or "test".
    data_dir: the data dir.

  Returns:
    ImageData with the same dtypes and shapes as the raw source.
  """
  # TensorFlow is only a tf.data backend here: keep its logs quiet and keep
  # it off any GPU so it does not reserve memory JAX needs.
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  try:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise DataError(
      f"source='tfds' needs tensorflow and tensorflow-datasets, which failed to import ({e}). "
      'Install them with `pip install -e ".[tfds]"`, or use source="raw".'
    ) from e
  try:
    tf.config.set_visible_devices([], "GPU")
  except RuntimeError:  # TF already initialised its devices, e.g. by an earlier call
    pass

  manual_dir = data_dir / name
  builder = tfds.builder(TFDS_NAMES[name], data_dir=str(data_dir / "tfds"), try_gcs=False)
  if not builder.is_prepared():
    missing = [f for f in TFDS_MANUAL_FILES[name] if not (manual_dir / f).is_file()]
    if missing:
      raise DataError(
        f"TFDS needs {', '.join(missing)} in {manual_dir} to prepare {name} offline, "
        f"but they are missing. For mnist/fashion_mnist run `dvae data download {name}`; "
        "for cifar10 put the official cifar-10-binary.tar.gz there. Network downloads "
        "through TFDS are deliberately disabled."
      )
    builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir), try_download_gcs=False)
    )
  images, labels = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1, as_supervised=True))
  return ImageData(images=images.astype(np.uint8), labels=labels.astype(np.int32))
