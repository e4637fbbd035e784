"""Data parallelism on a device mesh: params replicated P(), batches sharded over "data".

The same code runs on one CPU, eight GPUs or a multi-host pod: each process feeds its slice of
every global batch, and `jax.make_array_from_process_local_data` assembles the global array.
"""

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

DATA_AXIS = "data"


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


def global_batch(batch: dict[str, np.ndarray], sharding: NamedSharding, *, batch_axis: int = 0) -> dict[str, jax.Array]:
  """Host arrays holding the whole global batch -> global arrays sharded over the mesh.

  Every process computes the same global index order, keeps the slice of the batch axis its
  devices own, and hands it to `make_array_from_process_local_data`.
  """
  count, index = jax.process_count(), jax.process_index()

  def to_global(x: np.ndarray) -> jax.Array:
    per_process = x.shape[batch_axis] // count
    local = np.take(x, np.arange(index * per_process, (index + 1) * per_process), axis=batch_axis)
    return jax.make_array_from_process_local_data(sharding, local, x.shape)

  return {name: to_global(value) for name, value in batch.items()}
