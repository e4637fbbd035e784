"""Datasets: raw-file, TFDS, synthetic, user .npz and image-folder sources, and the batching pipeline."""

from dvae_jax.data.image_folder import ImageFolderOptions, load_image_folder
from dvae_jax.data.pipeline import (
  Batch,
  PreprocessSpec,
  Split,
  Splits,
  binarize_statically,
  eval_batches,
  load_splits,
  preprocess,
  preprocess_spec_from_config,
  train_batches,
)
from dvae_jax.data.sources import DATASETS, DataError, ImageData, download, load_split, resolve_data_dir

__all__ = [
  "Batch",
  "DATASETS",
  "DataError",
  "ImageData",
  "ImageFolderOptions",
  "PreprocessSpec",
  "Split",
  "Splits",
  "binarize_statically",
  "download",
  "eval_batches",
  "load_image_folder",
  "load_split",
  "load_splits",
  "preprocess",
  "preprocess_spec_from_config",
  "resolve_data_dir",
  "train_batches",
]
