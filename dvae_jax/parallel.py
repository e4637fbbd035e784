"""Data parallelism on a device mesh: params replicated P(), batches sharded over "data".

The same code runs on one CPU, eight GPUs or a multi-host pod: the mesh spans every process's
devices, each process gathers and feeds only the rows of each global batch that its own devices
hold (`jax.make_array_from_process_local_data`), and the CLI's --distributed flag joins the
processes with `jax.distributed.initialize()` first.

A split that fits in device memory can instead live on the devices (`resident_split`: every device
holds all of it, replicated like the parameters), and a step then gathers its rows inside the
jitted program (`gather_rows`) from a global index sharded like a batch (`global_index`): the same
rows on the same devices as `global_batch` gives, without the host gathering and transferring
every image of every step.
"""

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from dvae_jax.data import Batch

DATA_AXIS = "data"


def is_primary() -> bool:
  """Whether this process writes files (metrics, configs, figures); orbax coordinates checkpoints."""
  return jax.process_index() == 0


def make_mesh(num_devices: int | None = None) -> Mesh:
  """A 1-D mesh over the first `num_devices` devices (all devices when None)."""
  devices = jax.devices()
  if num_devices is not None:
    if not 1 <= num_devices <= len(devices):
      raise ValueError(f"num_devices={num_devices} but {len(devices)} devices are visible: {devices}")
    devices = devices[:num_devices]
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh, *, leading_axes: int = 0) -> NamedSharding:
  """Shards the batch axis, which follows `leading_axes` unsharded axes (e.g. a dispatch axis)."""
  return NamedSharding(mesh, P(*([None] * leading_axes), DATA_AXIS))


def global_batch(batch: Batch | dict[str, np.ndarray], sharding: NamedSharding) -> dict[str, jax.Array]:
  """A global batch -> global arrays sharded over the mesh.

  Every process computes the same global index order. From a `Batch` (rows not yet gathered), each
  process gathers only the rows its own devices hold; from host arrays holding the whole batch,
  each transfers only those rows.
  """
  if isinstance(batch, Batch):
    return _gather_local_rows(batch, sharding)
  return {
    name: jax.make_array_from_callback(value.shape, sharding, lambda index, value=value: value[index])
    for name, value in batch.items()
  }


@functools.lru_cache(maxsize=64)  # asked at every step, for a handful of (sharding, shape) pairs
def local_rows(sharding: NamedSharding, index_shape: tuple[int, ...]) -> slice:
  """The rows of the sharded (last) axis of an index array of `index_shape` that this process's
  devices hold: one contiguous range, as a 1-D mesh over devices in process order gives."""
  axis = len(index_shape) - 1
  spans = {
    (index[axis].start or 0, index[axis].stop or index_shape[axis])
    for index in sharding.addressable_devices_indices_map(index_shape).values()
  }
  start, stop = min(lo for lo, _ in spans), max(hi for _, hi in spans)
  if sum(hi - lo for lo, hi in spans) != stop - start:
    raise ValueError(
      f"this process's devices hold non-contiguous rows {sorted(spans)} of a batch of {index_shape[axis]}: "
      "the mesh must list each process's devices together (parallel.make_mesh does)."
    )
  return slice(start, stop)


def _gather_local_rows(batch: Batch, sharding: NamedSharding) -> dict[str, jax.Array]:
  rows = local_rows(sharding, batch.index.shape)
  local = batch.rows((*([slice(None)] * (batch.index.ndim - 1)), rows))
  shape = batch.index.shape
  return {
    name: jax.make_array_from_process_local_data(sharding, value, (*shape, *value.shape[len(shape) :]))
    for name, value in local.items()
  }


def global_index(index: np.ndarray | jax.Array, sharding: NamedSharding) -> jax.Array:
  """A global index [..., B] sharded like a batch (`sharding`); each process transfers only the rows
  its own devices hold, as `global_batch` does. A global array is returned unchanged."""
  if isinstance(index, jax.Array) and index.sharding == sharding:
    return index
  index = np.asarray(index, np.int32)
  return jax.make_array_from_callback(index.shape, sharding, lambda rows: index[rows])


def resident_split(fields: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
  """A split's fields [N, ...] on every device of the mesh (replicated), for `gather_rows`. Every
  process holds the whole split on the host and transfers it to its own devices."""
  sharding = replicated(mesh)
  return {
    name: jax.make_array_from_callback(value.shape, sharding, lambda rows, value=value: value[rows])
    for name, value in fields.items()
  }


def gather_rows(split: dict[str, jax.Array], index: jax.Array, sharding: NamedSharding) -> dict[str, jax.Array]:
  """Inside a jitted step: the rows `index` [..., B] of a resident split, sharded as `global_batch`
  shards a batch (`sharding`): each device gathers its own rows from its own copy, no communication."""
  return {
    name: jax.lax.with_sharding_constraint(jnp.take(value, index, axis=0, mode="clip"), sharding)
    for name, value in split.items()
  }


def device_memory_bytes(mesh: Mesh) -> int:
  """The memory of the smallest of this process's mesh devices: the allocator's limit where the
  backend reports one (GPU, TPU); on the CPU, the host's physical memory shared by its devices."""
  local = [device for device in mesh.devices.flat if device.process_index == jax.process_index()]
  limits = [(device.memory_stats() or {}).get("bytes_limit") for device in local]
  if all(limits):
    return int(min(limits))
  return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // len(local)


def any_process(flag: bool) -> bool:
  """Whether `flag` is set in any process of a multi-process run (every process must call it)."""
  from jax.experimental import multihost_utils

  return bool(np.any(multihost_utils.process_allgather(np.asarray(flag, np.int32))))
