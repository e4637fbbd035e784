"""The one evaluation loop: outputs stay on the device until one fetch at the end, in the batches'
order, with the padding of the last batch dropped; and every evaluation path runs through it."""

import ast
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax import eval_loop, parallel
from dvae_jax.data import Split, eval_batches

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "dvae_jax"


@pytest.fixture(scope="module")
def split() -> Split:
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (70, 4, 4, 1), dtype=np.uint8)
  return Split(images=images, labels=np.arange(70) % 10, ids=np.arange(70))


def test_sums_and_rows_of_every_batch_with_one_fetch(split, monkeypatch):
  mesh = jax.make_mesh((4,), ("data",))
  sharding = parallel.batch_sharding(mesh)

  @jax.jit
  def per_batch(state, batch, key):
    pixels = batch["image"].astype(jnp.float32).sum(axis=(1, 2, 3))
    return {"sum": jnp.sum(pixels * batch["mask"]), "count": jnp.sum(batch["mask"])}, pixels + state

  fetches, device_get = [], jax.device_get
  monkeypatch.setattr(jax, "device_get", lambda x: fetches.append(1) or device_get(x))
  outputs = eval_loop.map_batches(per_batch, jnp.float32(0.5), eval_batches(split, 16), sharding, key=jax.random.key(0))
  assert len(outputs) == 5 and len(fetches) == 1  # 70 images in 5 batches of 16, fetched once
  sums = eval_loop.summed([s for s, _ in outputs])
  expected = split.images.reshape(70, -1).sum(axis=1).astype(np.float64)
  assert float(sums["count"]) == 70 and float(sums["sum"]) == expected.sum()
  np.testing.assert_array_equal(eval_loop.concatenated([rows for _, rows in outputs], 70), expected + 0.5)


def test_summed_in_float32_adds_in_order_as_the_device_would():
  values = [np.float32(1e8), np.float32(1.0), np.float32(-1e8), np.float32(1.0)]
  assert float(eval_loop.summed(values, np.float32)) == float(((values[0] + values[1]) + values[2]) + values[3])
  assert float(eval_loop.summed(values)) == 2.0  # float64: nothing lost


def _functions_iterating_evaluation_batches() -> dict[str, bool]:
  """Every package function that makes evaluation batches -> whether it hands them to map_batches."""
  found = {}
  for path in PACKAGE.rglob("*.py"):
    if path.name == "eval_loop.py" or path.parent.name == "data":
      continue
    tree = ast.parse(path.read_text())
    for function in ast.walk(tree):
      if not isinstance(function, ast.FunctionDef):
        continue
      source = ast.get_source_segment(path.read_text(), function) or ""
      if "eval_batches(" in source or "split_batches(" in source:
        found[f"{path.relative_to(PACKAGE)}:{function.name}"] = "eval_loop.map_batches(" in source
  return found


def test_every_evaluation_path_runs_through_the_one_loop():
  found = _functions_iterating_evaluation_batches()
  # Recomputing batch norm is a fold of the state over training batches, not an evaluation: it
  # fetches nothing either (the state stays on the device between batches).
  found.pop("batch_norm.py:recompute_batch_norm_statistics")
  assert all(found.values()), {name: ok for name, ok in found.items() if not ok}
  assert set(found) >= {
    "experiment.py:evaluate_split",
    "evaluate.py:classifier_error_on_reconstructions",
    "evaluate.py:reconstruction_quality",
    "evaluate.py:importance_weighted_nll",
    "clustering.py:cluster_counts",
    "clustering.py:posterior_means",
  }
  # Features of image arrays (not a split) batch them by hand, into the same loop.
  assert "eval_loop.map_batches(" in (PACKAGE / "evaluate.py").read_text().split("def classifier_features")[1]
