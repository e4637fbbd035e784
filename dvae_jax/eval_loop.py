"""The one evaluation loop: a jitted function over a split's batches, its outputs kept on the
device, one `device_get` at the end (big_vision's `evaluators/mean.py`).

Every evaluation path runs through `map_batches`: validation and test metrics, image quality, the
classifier's error and features, the importance-weighted NLL, mixture-component counts, posterior
means for figures. Fetching a number after every batch would make the host wait for each batch
before it dispatches the next, serializing an accelerator; here the host only dispatches, and on
an accelerator an implicit device-to-host transfer inside the loop is an error (`jax.transfer_guard`;
on the CPU a device array is host memory and the guard has nothing to catch). The
reductions are the callers' (`summed`, `concatenated`), on the fetched per-batch outputs, so that
each keeps the precision and order of summation it has always had.
"""

import functools
import operator
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jax
import numpy as np

from dvae_jax import console, parallel
from dvae_jax.data import Split, eval_batches


def map_batches(
  fn: Callable[..., Any],
  state: Any,
  batches: Iterable[Any],
  sharding: jax.sharding.NamedSharding,
  *,
  key: jax.Array | None = None,
  after_dispatch: Callable[[int, Any], None] | None = None,
) -> list[Any]:
  """[fn(state, batch) or fn(state, batch, fold_in(key, i)) for batch i] as host values.

  `batches` are host batches (`data.Batch`, or dicts of arrays holding the whole batch), sharded
  with `sharding`; `fn` is jitted. `after_dispatch(i, output)` runs after batch i is dispatched
  (to time one batch, say); it may wait for the output but not fetch it.
  """
  outputs = []
  with jax.transfer_guard_device_to_host("disallow"):
    for index, batch in enumerate(batches):
      args = (state, parallel.global_batch(batch, sharding))
      output = fn(*args) if key is None else fn(*args, jax.random.fold_in(key, index))
      outputs.append(output)
      if after_dispatch is not None:
        after_dispatch(index, output)
  return jax.device_get(outputs)


def split_batches(split: Split, batch_size: int, desc: str) -> Iterator[Any]:
  """`split`'s evaluation batches (the last padded, `mask` 0 on padding), with a progress bar while
  the console reports (dvae evaluate)."""
  return console.progress(eval_batches(split, batch_size), total=console.batches_of(len(split), batch_size), desc=desc)


def summed(outputs: list[Any], dtype: type = np.float64) -> Any:
  """The per-batch outputs added in batch order, in `dtype` (np.float32: as the device would)."""
  cast = [jax.tree.map(lambda x: np.asarray(x, dtype), output) for output in outputs]
  return jax.tree.map(lambda *values: functools.reduce(operator.add, values), *cast)


def concatenated(outputs: list[Any], count: int) -> Any:
  """The per-batch outputs [B, ...] joined along the batch axis, less the last batch's padding: the
  first `count` rows (padding is always at the end)."""
  return jax.tree.map(lambda *values: np.concatenate(values)[:count], *outputs)
