"""data/pipeline.py: validation split, epoch order, batching policy, on-device preprocessing, and the static
binarization drawn once and stored with its split. (The rows of a split kept on the devices: tests/test_parallel.py.)"""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from dvae_jax import configs
from dvae_jax.data import (
  Batch,
  PreprocessSpec,
  binarize_statically,
  eval_batches,
  load_splits,
  pipeline,
  preprocess,
  train_batches,
)
from dvae_jax.data.pipeline import epoch_permutation
from tests.helpers import image_splits, numbered_split


def _data_config(shared_data, **kw) -> ml_collections.ConfigDict:
  data = configs.base_config().data
  data.dir = str(shared_data)
  for k, v in kw.items():
    data[k] = v
  return data


def test_reference_validation_split_is_the_first_tenth_unshuffled(shared_data):
  splits = load_splits(_data_config(shared_data), seed=0)
  assert (len(splits.train), len(splits.valid), len(splits.test)) == (54_000, 6_000, 10_000)
  np.testing.assert_array_equal(splits.valid.ids, np.arange(6_000))
  assert splits.valid.labels[:5].tolist() == [5, 0, 4, 1, 9]  # the first MNIST training labels
  np.testing.assert_array_equal(splits.train.ids, np.arange(6_000, 60_000))
  assert splits.test.ids.min() == 60_000 and splits.num_classes == 10


def test_random_validation_split_is_seeded_and_disjoint(shared_data):
  a = load_splits(_data_config(shared_data, validation_split="random", train_limit=100), seed=3)
  b = load_splits(_data_config(shared_data, validation_split="random", train_limit=100), seed=3)
  c = load_splits(_data_config(shared_data, validation_split="random", train_limit=100), seed=4)
  np.testing.assert_array_equal(a.valid.ids, b.valid.ids)
  assert not np.array_equal(a.valid.ids, c.valid.ids)
  assert len(a.valid) == 6_000 and len(a.train) == 100
  assert not set(a.valid.ids) & set(a.train.ids)


def test_epoch_order_is_a_pure_function_of_key_and_epoch():
  key = jax.random.key(0)
  first = epoch_permutation(key, 0, 100)
  np.testing.assert_array_equal(first, epoch_permutation(key, 0, 100))
  assert not np.array_equal(first, epoch_permutation(key, 1, 100))
  assert sorted(first.tolist()) == list(range(100))


def test_train_batches_drop_the_remainder_and_resume_mid_epoch():
  split = numbered_split(10)
  chunks = list(train_batches(split, key=jax.random.key(0), epoch=0, batch_size=3, start_step=0, steps_per_dispatch=2))
  assert [first for first, _ in chunks] == [0, 2]  # 3 steps of 3; the 10th example waits for another epoch
  assert [b["image"].shape for _, b in chunks] == [(2, 3, 1, 1, 1), (1, 3, 1, 1, 1)]
  seen = np.concatenate([b["id"].ravel() for _, b in chunks])
  assert len(set(seen.tolist())) == 9
  resumed = list(train_batches(split, key=jax.random.key(0), epoch=0, batch_size=3, start_step=1, steps_per_dispatch=1))
  np.testing.assert_array_equal(np.concatenate([b["id"].ravel() for _, b in resumed]), seen[3:])


def test_eval_batches_pad_and_mask_the_last_batch():
  batches = list(eval_batches(numbered_split(10), 4))
  assert [b["image"].shape[0] for b in batches] == [4, 4, 4]
  np.testing.assert_array_equal(batches[-1]["mask"], [1, 1, 0, 0])
  assert sum(b["mask"].sum() for b in batches) == 10


def test_preprocess_scales_inverts_and_grays():
  images = jnp.array([[[[0, 255, 51]]]], jnp.uint8)  # one RGB pixel
  ids = jnp.array([0])
  key = jax.random.key(0)
  x = preprocess(images, ids, spec=PreprocessSpec(), key=key)
  np.testing.assert_allclose(x, [[[[0.0, 1.0, 0.2]]]], rtol=1e-6)
  gray = preprocess(images, ids, spec=PreprocessSpec(grayscale=True, invert=True), key=key)
  np.testing.assert_allclose(gray, [[[[1.0 - (0.587 + 0.114 * 0.2)]]]], rtol=1e-5)


@pytest.mark.parametrize("mode", ["static", "dynamic"])
def test_binarization(mode):
  images = jnp.full((4, 28, 28, 1), 64, jnp.uint8)
  ids = jnp.arange(4)
  spec = PreprocessSpec(binarize=mode)
  key = jax.random.key(0)
  a = preprocess(images, ids, spec=spec, key=key, step=jnp.int32(0))
  b = preprocess(images, ids, spec=spec, key=key, step=jnp.int32(1))
  assert set(np.unique(np.asarray(a))) == {0.0, 1.0}
  np.testing.assert_allclose(jnp.mean(a), 64 / 255, atol=0.03)
  # Static: the same image always gets the same draw; dynamic: a new step, a new draw.
  assert np.array_equal(a, b) == (mode == "static")
  # Evaluation (no step) keys draws by example id, so an image's draw does not depend on its batch.
  c = preprocess(images[2:], ids[2:], spec=spec, key=key)
  d = preprocess(images, ids, spec=spec, key=key)
  np.testing.assert_array_equal(c, d[2:])
  assert not np.array_equal(d[0], d[1])


@pytest.mark.parametrize(
  "spec,shape",
  [
    (PreprocessSpec(binarize="static", invert=True), (28, 28, 1)),
    (PreprocessSpec(binarize="static", grayscale=True), (8, 8, 3)),
    (PreprocessSpec(binarize="static"), (8, 8, 3)),
  ],
)
def test_the_static_binarization_drawn_once_is_the_steps_draw_bit_for_bit(spec, shape, monkeypatch):
  """Stored with the split, it equals what `preprocess` draws inside a jitted step (any step: static)
  and in evaluation (keyed by id), for every split, across chunk boundaries (the last one padded)."""
  monkeypatch.setattr(pipeline, "BINARIZE_CHUNK", 7)
  key = jax.random.fold_in(jax.random.key(0), 5)  # as named_keys makes the binarization key
  splits = image_splits(20, shape)
  stored = binarize_statically(splits, spec, key)
  in_step = jax.jit(lambda images, ids, step: preprocess(images, ids, spec=spec, key=key, step=step))
  for name in ("train", "valid", "test"):
    split = getattr(stored, name)
    assert split.binarized.dtype == np.uint8 and split.binarized.shape == (20, *spec.image_shape(shape))
    np.testing.assert_array_equal(split.images, getattr(splits, name).images)  # kept as stored
    assert split.input_fields == ("binarized", "label", "id")
    index = np.array([3, 17, 0, 9, 14, 6])  # a batch across chunks, in epoch order
    drawn = in_step(split.images[index], split.ids[index], jnp.int32(11))
    np.testing.assert_array_equal(split.binarized[index].astype(np.float32), np.asarray(drawn))
    evaluated = preprocess(split.images, split.ids, spec=spec, key=key)
    np.testing.assert_array_equal(split.binarized.astype(np.float32), np.asarray(evaluated))
  assert 0.3 < stored.train.binarized.mean() < 0.7  # bits of random pixels, not all of one value


@pytest.mark.parametrize("binarize", ["none", "dynamic"])
def test_only_a_static_binarization_is_stored(binarize):
  splits = image_splits(4, (2, 2, 1))
  assert binarize_statically(splits, PreprocessSpec(binarize=binarize), jax.random.key(0)) is splits
  assert splits.train.input_fields == ("image", "label", "id")


def test_a_batch_reads_the_stored_binarization_and_inspects_any_field():
  split = binarize_statically(image_splits(6, (2, 2, 1)), PreprocessSpec(binarize="static"), jax.random.key(0)).train
  batch = Batch(split, np.array([[4, 1]]))
  assert set(batch.rows()) == {"binarized", "label", "id"}  # what a step reads: not the stored image too
  np.testing.assert_array_equal(batch["image"], split.images[[[4, 1]]])
  np.testing.assert_array_equal(batch["binarized"], split.binarized[[[4, 1]]])
  assert split.input_bytes == split.binarized.nbytes + split.labels.nbytes + split.ids.nbytes
