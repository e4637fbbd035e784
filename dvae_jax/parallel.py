"""Data parallelism on a device mesh: params replicated P(), batches sharded over "data".

The same code runs on one CPU, eight GPUs or a multi-host pod: each process feeds its slice of
every global batch (`jax.make_array_from_callback`), and the CLI's --distributed flag runs
`jax.distributed.initialize()` first.
"""

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

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


def global_batch(batch: dict[str, np.ndarray], sharding: NamedSharding) -> dict[str, jax.Array]:
  """Host arrays holding the whole global batch -> global arrays sharded over the mesh.

  Every process computes the same global index order and so holds the same host batch; each
  materializes only the shards its own devices own, whatever the device order of the platform.
  """
  return {
    name: jax.make_array_from_callback(value.shape, sharding, lambda index, value=value: value[index])
    for name, value in batch.items()
  }
