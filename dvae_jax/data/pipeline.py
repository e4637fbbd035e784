"""From raw uint8 images to sharded, preprocessed batches.

Host side: load a dataset, cut the validation split, and produce per-epoch index orders that are a
pure function of (data key, epoch). Device side: `preprocess` turns uint8 images into floats in
[0, 1] (grayscale, invert, binarize) inside the jitted step. A static binarization is fixed for the
run, so it is drawn once per example (`binarize_statically`, the same draws) and stored with the
split rather than redrawn at every step.

Last-partial-batch policy: training drops the last partial batch of each epoch (every epoch is
reshuffled, so every example is still seen); evaluation pads it and masks the padding out, so every
evaluation example counts exactly once.
"""

import dataclasses
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from dvae_jax.data.image_folder import ImageFolderOptions
from dvae_jax.data.sources import load_split

BINARIZE = ("none", "static", "dynamic")
# How the validation split is chosen: the first or a random data.validation_fraction of the training
# file, or "test": the test split (nothing carved out of the training file).
VALIDATION_SPLITS = ("first", "random", "test")


@dataclasses.dataclass(frozen=True)
class Split:
  """Examples of one split. `ids` are unique across the dataset's files (static binarization keys).

  `binarized` is the split's static binarization when the run has one (`binarize_statically`):
  what the steps read in place of `images`, which stay as stored for everything else (figures,
  `Run.inputs`, a user's own preprocessing).
  """

  images: np.ndarray  # uint8 [N, H, W, C], as stored
  labels: np.ndarray  # int32 [N]
  ids: np.ndarray  # int32 [N]
  binarized: np.ndarray | None = None  # uint8 0/1 [N, H, W, C'] (C' = 1 for grayscale), or None

  def __len__(self) -> int:
    return len(self.labels)

  def head(self, n: int | None) -> "Split":
    """The first n examples (all when n is None or 0)."""
    if not n:
      return self
    return Split(self.images[:n], self.labels[:n], self.ids[:n], None if self.binarized is None else self.binarized[:n])

  @property
  def input_bytes(self) -> int:
    """The bytes of the fields a step reads: what `data.on_device` keeps on each device."""
    return sum(self.fields[name].nbytes for name in self.input_fields)

  @property
  def input_fields(self) -> tuple[str, ...]:
    """The fields a step reads: the stored image, or its static binarization when the split holds one."""
    return ("image" if self.binarized is None else "binarized", "label", "id")

  @property
  def fields(self) -> dict[str, np.ndarray]:
    """The stored fields: "image" (as stored), "label", "id" and, when the split holds one, "binarized"."""
    stored = {"image": self.images, "label": self.labels, "id": self.ids, "binarized": self.binarized}
    return {name: value for name, value in stored.items() if value is not None}

  def take(self, index: np.ndarray, fields: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Every stored field of the examples `index`, or only `fields`."""
    stored = self.fields
    missing = set(fields or ()) - set(stored)
    if missing:
      raise KeyError(f"the split has no field {sorted(missing)}; its fields: {sorted(stored)}")
    return {name: stored[name][index] for name in fields or stored}


@dataclasses.dataclass(frozen=True)
class Batch:
  """The rows `index` of `split` (any index shape, e.g. [k, B] for k steps of B images), not yet
  gathered: each process of a multi-process run gathers only the rows its own devices hold
  (`parallel.global_batch`), or a step gathers them from a split kept on the device
  (`Experiment.train_step`). `mask` (evaluation) is 0 on padding rows. `batch[name]` gathers a
  whole field, e.g. for inspection."""

  split: Split
  index: np.ndarray
  mask: np.ndarray | None = None

  def __len__(self) -> int:
    return len(self.index)

  def rows(self, selection: tuple[slice, ...] = ()) -> dict[str, np.ndarray]:
    """The fields a step reads (`Split.input_fields`, and `mask`) of the rows index[selection],
    gathered from the split."""
    fields = self.split.take(self.index[selection], self.split.input_fields)
    if self.mask is not None:
      fields["mask"] = self.mask[selection]
    return fields

  def __contains__(self, name: str) -> bool:
    return name in self.split.fields or (name == "mask" and self.mask is not None)

  def __getitem__(self, name: str) -> np.ndarray:
    return self.mask if name == "mask" and self.mask is not None else self.split.take(self.index, (name,))[name]


@dataclasses.dataclass(frozen=True)
class Splits:
  train: Split
  valid: Split
  test: Split
  num_classes: int

  @property
  def raw_image_shape(self) -> tuple[int, int, int]:
    return tuple(self.train.images.shape[1:])


@dataclasses.dataclass(frozen=True)
class PreprocessSpec:
  grayscale: bool = False
  invert: bool = False
  binarize: str = "none"

  def image_shape(self, raw_shape: tuple[int, int, int]) -> tuple[int, int, int]:
    return (raw_shape[0], raw_shape[1], 1) if self.grayscale else tuple(raw_shape)


def preprocess_spec_from_config(data: ml_collections.ConfigDict) -> PreprocessSpec:
  return PreprocessSpec(grayscale=data.grayscale, invert=data.invert, binarize=data.binarize)


def image_folder_options_from_config(data: ml_collections.ConfigDict) -> ImageFolderOptions:
  return ImageFolderOptions(
    image_size=data.image_size,
    center_crop=data.center_crop,
    channels=data.image_channels,
    resize_filter=data.resize_filter,
    test_fraction=data.test_fraction,
    split_seed=data.split_seed,
    layout=data.layout,
  )


def load_splits(data: ml_collections.ConfigDict, *, seed: int) -> Splits:
  """Loads train and test files and carves the validation split out of the training file (or takes the
  test split as it, data.validation_split "test"); with data.train_on_test the training split also holds
  the test file's images, after the training file's.

  For "image_folder" the "files" are the folder's seeded train/test split (data.test_fraction).
  """
  kwargs = dict(
    data_dir=data.dir,
    source=data.source,
    download=data.download,
    path=data.path,
    image_folder=image_folder_options_from_config(data),
    image_folder_cache_dir=data.cache_dir,
  )
  train_file = load_split(data.name, "train", **kwargs)
  test_file = load_split(data.name, "test", **kwargs)
  num_classes = int(max(train_file.labels.max(), test_file.labels.max())) + 1
  n_train_file = len(train_file.labels)
  train_ids = np.arange(n_train_file, dtype=np.int32)
  test = Split(
    test_file.images,
    test_file.labels.astype(np.int32),
    np.arange(n_train_file, n_train_file + len(test_file.labels), dtype=np.int32),
  )

  num_valid = int(round(data.validation_fraction * n_train_file))
  if data.validation_split == "first":
    order = train_ids  # The reference takes the first 10% of the training file, unshuffled.
  else:
    order = np.random.default_rng([seed, 0x5EED]).permutation(n_train_file).astype(np.int32)
  valid_ids, train_ids = np.sort(order[:num_valid]), np.sort(order[num_valid:])

  def subset(ids: np.ndarray, limit: int | None) -> Split:
    ids = ids[:limit] if limit else ids
    return Split(train_file.images[ids], train_file.labels[ids].astype(np.int32), ids)

  train = subset(train_ids, None)
  if data.train_on_test:  # the clustering protocol (DEC, VaDE): the test file's images train too
    train = Split(
      *(np.concatenate([getattr(train, field), getattr(test, field)]) for field in ("images", "labels", "ids"))
    )
  return Splits(
    train=train.head(data.train_limit),
    valid=test.head(data.eval_limit) if data.validation_split == "test" else subset(valid_ids, data.eval_limit),
    test=test.head(data.eval_limit),
    num_classes=num_classes,
  )


def preprocess(
  images: jax.Array, ids: jax.Array, *, spec: PreprocessSpec, key: jax.Array, step: jax.Array | None = None
) -> jax.Array:
  """uint8 [..., H, W, C] -> float32 in [0, 1].

  Binarization draws x ~ Bernoulli(pixel) from the binarization stream `key`. "static" keys each
  draw by example id, so an image is binarized the same way every time it is seen; "dynamic" draws
  afresh at every training `step`. Evaluation (step None) keys by example id as well, so it is
  deterministic and independent of batching.
  """
  x = images.astype(jnp.float32) / 255.0
  if spec.grayscale and x.shape[-1] == 3:
    x = jnp.sum(x * jnp.array([0.299, 0.587, 0.114], jnp.float32), axis=-1, keepdims=True)
  if spec.invert:
    x = 1.0 - x
  if spec.binarize == "none":
    return x
  # Separate sub-streams, so that the draw of training step s never equals that of example id s.
  if spec.binarize == "dynamic" and step is not None:
    return jax.random.bernoulli(jax.random.fold_in(jax.random.fold_in(key, 0), step), x).astype(jnp.float32)
  keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(jax.random.fold_in(key, 1), ids.reshape(-1))
  draws = jax.vmap(jax.random.bernoulli)(keys, x.reshape(-1, *x.shape[-3:]))
  return draws.reshape(x.shape).astype(jnp.float32)


# Examples binarized per call of `binarize_statically`'s jitted draw: one compilation for any split
# (the last chunk is padded), a bounded device footprint for any dataset.
BINARIZE_CHUNK = 2048


def binarize_statically(splits: Splits, spec: PreprocessSpec, key: jax.Array) -> Splits:
  """`splits` with each split's static binarization drawn once and stored (`Split.binarized`).

  A static binarization is a property of the example, fixed for the run: `preprocess` would draw
  the same bits (keyed by example id) at every step that sees the example, a threefry draw per
  pixel, which costs a small model much of its step (results/performance/README.md). Here
  `preprocess` itself draws them once per example, on this process's first device, so the stored
  bits are the ones it draws in the step, bit for bit; the step only converts them to floats. Evaluation keys its draw
  by example id for every binarization, so the stored bits are also what the validation and test
  splits are evaluated on. Other specs ("none", "dynamic": a new draw at every training step)
  return `splits` unchanged.
  """
  if spec.binarize != "static":
    return splits
  device = jax.local_devices()[0]
  draw = jax.jit(lambda images, ids: preprocess(images, ids, spec=spec, key=key).astype(jnp.uint8))

  def binarized(split: Split) -> Split:
    chunks = []
    for start in range(0, len(split), BINARIZE_CHUNK):
      rows = np.minimum(np.arange(start, start + BINARIZE_CHUNK), len(split) - 1)  # the last chunk padded
      images, ids = jax.device_put((split.images[rows], split.ids[rows]), device)
      chunks.append(draw(images, ids)[: len(split) - start])
    shape = (0, *spec.image_shape(split.images.shape[1:]))
    bits = np.concatenate(jax.device_get(chunks)) if chunks else np.zeros(shape, np.uint8)
    return dataclasses.replace(split, binarized=bits)

  return dataclasses.replace(
    splits, train=binarized(splits.train), valid=binarized(splits.valid), test=binarized(splits.test)
  )


def epoch_permutation(key: jax.Array, epoch: int, num_examples: int) -> np.ndarray:
  """The order of epoch `epoch`: a pure function of the data key and the epoch."""
  return np.asarray(jax.random.permutation(jax.random.fold_in(key, epoch), num_examples))


def train_batches(
  split: Split, *, key: jax.Array, epoch: int, batch_size: int, start_step: int, steps_per_dispatch: int
) -> Iterator[tuple[int, Batch]]:
  """Yields (step in epoch, batch with a leading [k] dispatch axis) from `start_step` on.

  The last chunk of an epoch may hold fewer than `steps_per_dispatch` steps.
  """
  steps = len(split) // batch_size
  order = epoch_permutation(key, epoch, len(split))[: steps * batch_size].reshape(steps, batch_size)
  for first in range(start_step, steps, steps_per_dispatch):
    yield first, Batch(split, order[first : first + steps_per_dispatch])


def eval_batches(split: Split, batch_size: int) -> Iterator[Batch]:
  """Fixed-order batches covering the split once; the last one is padded, with `mask` 0 on padding."""
  n = len(split)
  for start in range(0, n, batch_size):
    index = np.arange(start, start + batch_size)
    yield Batch(split, np.minimum(index, n - 1), mask=(index < n).astype(np.float32))
