"""Orbax checkpoints of the whole train state, plus a JSON record of where training stood.

Each checkpoint holds two items: `state` (the TrainState pytree) and `meta` (step, epoch, position
in the epoch, and the config parts that must match for a resume to make sense).
"""

import errno
import pathlib
from collections.abc import Mapping
from typing import Any

import orbax.checkpoint as ocp


class CheckpointError(RuntimeError):
  """A checkpoint cannot be used with the current config; nothing on disk was changed."""


class Checkpointer:
  def __init__(self, directory: str | pathlib.Path, *, max_to_keep: int = 3):
    self.directory = pathlib.Path(directory).absolute()
    self._manager = ocp.CheckpointManager(
      self.directory,
      options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=False),
      item_names=("state", "meta"),
    )

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def read_meta(self, step: int) -> dict[str, Any]:
    try:
      meta = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta
    except (OSError, ValueError, KeyError, TypeError) as e:
      raise self._unreadable(step, e) from e
    if not isinstance(meta, dict):
      raise self._unreadable(step, TypeError(f"its meta record is a {type(meta).__name__}, not a JSON object"))
    return meta

  def _unreadable(self, step: int, cause: Exception) -> CheckpointError:
    return CheckpointError(
      f"The checkpoint at step {step} in {self.directory} cannot be read ({type(cause).__name__}: "
      f"{str(cause).splitlines()[0][:300] if str(cause) else 'no details'}): a file in it is missing or corrupt. "
      f"Nothing was changed. To go on from an earlier checkpoint, move {self.directory / str(step)} aside; "
      "otherwise use a new --workdir."
    )

  def check_compatible(
    self, step: int, expected: dict[str, Any], *, renamed: Mapping[str, str] | None = None
  ) -> dict[str, Any]:
    """Returns the checkpoint's meta, or raises CheckpointError listing every differing entry.

    `renamed` maps names an earlier version wrote (e.g. of a network) to today's: either is accepted.
    """
    meta = self.read_meta(step)
    renamed = renamed or {}
    found = {k: renamed.get(v, v) if isinstance(v, str) else v for k, v in meta.get("identity", {}).items()}
    expected = {k: renamed.get(v, v) if isinstance(v, str) else v for k, v in expected.items()}
    # Entries that only one side records (a checkpoint of an older version) are not compared.
    diffs = [
      f"{k}: checkpoint has {found[k]!r}, config has {expected[k]!r}"
      for k in sorted(set(found) & set(expected))
      if found[k] != expected[k]
    ]
    if diffs:
      raise CheckpointError(
        f"The checkpoint at step {step} in {self.directory} was written by a different experiment, "
        f"so it cannot be resumed or evaluated with this config. Differences: {'; '.join(diffs)}. "
        "Use a new --workdir, or the config the checkpoint was trained with. "
        "Nothing in the workdir was changed."
      )
    return meta

  def restore(self, step: int, target: Any) -> Any:
    """Restores the state onto `target`'s structure, shapes, dtypes and shardings."""
    try:
      return self._manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target))).state
    except (ValueError, KeyError, TypeError) as e:
      raise CheckpointError(
        f"The checkpoint at step {step} in {self.directory} does not match the model built from this "
        f"config (its parameter tree or shapes differ: {str(e).splitlines()[0][:300]}), or a file in it is "
        "corrupt. Use a new --workdir, or the config the checkpoint was trained with. Nothing was changed."
      ) from e
    except Exception as e:  # tensorstore reports an unreadable array as a bare Exception
      raise self._unreadable(step, e) from e

  def save(self, step: int, state: Any, meta: dict[str, Any]) -> None:
    try:
      self.directory.mkdir(parents=True, exist_ok=True)
      self._manager.save(
        step, args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta))
      )
    except OSError as e:
      raise self._write_failed(step, e) from e

  def wait(self) -> None:
    """Blocks until the checkpoint being written (orbax writes in the background) is complete."""
    try:
      self._manager.wait_until_finished()
    except OSError as e:
      raise self._write_failed(None, e) from e

  def _write_failed(self, step: int | None, cause: OSError) -> CheckpointError:
    # orbax writes into a temporary directory and renames it when complete: a failed write leaves
    # the complete checkpoints as they were.
    latest = self._manager.latest_step()
    kept = f"the latest complete one is step {latest}, and a rerun resumes from it" if latest is not None else "none"
    full = " The disk is full: free space or use another --workdir." if cause.errno == errno.ENOSPC else ""
    return CheckpointError(
      f"Writing the checkpoint{'' if step is None else f' of step {step}'} to {self.directory} failed: "
      f"{cause.strerror or cause}.{full} The checkpoints already complete are kept ({kept})."
    )

  def close(self) -> None:
    self._manager.close()


def load_host_state(directory: str | pathlib.Path, step: int | None = None) -> tuple[int, Any]:
  """(step, the train state as host numpy arrays) of a checkpoint (default: the latest complete one)
  in `directory`, whatever mesh or number of processes wrote it, without building the experiment.
  For comparing runs (tests, scripts/fault_loop.py)."""
  import jax

  directory = pathlib.Path(directory).absolute()
  if step is None:
    complete = [int(p.name) for p in directory.iterdir() if p.name.isdigit()] if directory.is_dir() else []
    if not complete:
      raise CheckpointError(f"no checkpoint found in {directory}.")
    step = max(complete)
  path = directory / str(step) / "state"
  metadata = ocp.PyTreeCheckpointer().metadata(path)
  tree = metadata.item_metadata.tree if hasattr(metadata, "item_metadata") else metadata.tree
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), tree)
  return step, jax.device_get(ocp.StandardCheckpointer().restore(path, target))
