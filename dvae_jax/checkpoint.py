"""Orbax checkpoints of the whole train state, plus a JSON record of where training stood.

Each checkpoint holds two items: `state` (the TrainState pytree) and `meta` (step, epoch, position
in the epoch, and the config parts that must match for a resume to make sense).

Every checkpoint carries a digest of its contents, written when it is saved and checked whenever
it is read: `meta["digest"]` holds the SHA-256 of each array of the state (of its dtype, shape and
bytes in C order, so it depends neither on the mesh nor on the number of processes that wrote it)
and of the rest of the meta record. A checkpoint whose contents differ from their digest (bit rot,
a bad copy, a truncated or missing file) is never used: the error names what is wrong, which
earlier checkpoints are intact, and how to go on from the newest of them. Checkpoints written
before digests existed still load, with a note that they cannot be verified.
"""

import contextlib
import errno
import hashlib
import json
import logging
import pathlib
import sys
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jax
import numpy as np
import orbax.checkpoint as ocp

if TYPE_CHECKING:
  from dvae_jax.experiment import Experiment

DIGEST = "digest"  # the meta entry holding the digests
# The meta entry holding a preempted run's metrics since its last record, so that the resumed run
# writes the same records as an uninterrupted one (preemption.py).
PENDING_METRICS = "pending_train_metrics"
SET_ASIDE = "corrupt_checkpoints"  # where the error message suggests moving a corrupt checkpoint


class CheckpointError(RuntimeError):
  """A checkpoint cannot be used with the current config; nothing on disk was changed."""


class CorruptCheckpointError(CheckpointError):
  """A checkpoint's contents differ from their digest, or a file in it is missing or unreadable."""


class CheckpointRemoved(CheckpointError):
  """The checkpoint was deleted while it was read (by the training that keeps the newest few)."""


class _Corrupt(Exception):
  """What is wrong with one checkpoint (internal: becomes a CorruptCheckpointError's message), and
  the library's own words for it, if any (`detail`: they end the message)."""

  def __init__(self, problem: str, detail: str | None = None):
    super().__init__(problem)
    self.detail = detail


def array_digest(value: Any) -> str:
  """SHA-256 of one array's dtype, shape and bytes (C order)."""
  array = np.ascontiguousarray(value)
  digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
  digest.update(array.reshape(-1).view(np.uint8))
  return digest.hexdigest()


def state_digests(state: Any) -> dict[str, str]:
  """The digest of each array of `state`, by its tree path, from this process's copy."""
  paths, leaves = zip(*jax.tree_util.tree_flatten_with_path(state)[0], strict=True)
  host = jax.device_get([_local_value(leaf) for leaf in leaves])  # one transfer for the whole state
  return {_path_name(path): array_digest(value) for path, value in zip(paths, host, strict=True)}


def _path_name(path: tuple) -> str:
  """'params/encoder/Dense_0/kernel': the same for a TrainState and for the dict tree orbax reads back."""
  return "/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)


def _local_value(leaf: Any) -> Any:
  """The whole value of `leaf` as this process can fetch it (a key as its data)."""
  if isinstance(leaf, jax.Array):
    if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
      leaf = jax.random.key_data(leaf)
    if not leaf.is_fully_addressable:
      if leaf.is_fully_replicated:  # data parallelism: every process holds the whole value
        return leaf.addressable_data(0)
      from jax.experimental import multihost_utils

      return multihost_utils.process_allgather(leaf, tiled=True)
  return leaf


def _meta_digest(meta: Mapping[str, Any]) -> str:
  body = {k: v for k, v in meta.items() if k != DIGEST}
  return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def with_digest(meta: Mapping[str, Any], state: Any) -> dict[str, Any]:
  """`meta` plus the digests of `state`'s arrays and of `meta` itself."""
  meta = {k: v for k, v in meta.items() if k != DIGEST}
  return {**meta, DIGEST: {"arrays": state_digests(state), "meta": _meta_digest(meta)}}


def training_meta(experiment: "Experiment", step: int, pending: dict[str, Any] | None = None) -> dict[str, Any]:
  """The meta record of a training checkpoint of `step`: where training stood (epoch, position in
  it), the config entries a resume checks (`identity`: Checkpointer.check_compatible) or reports
  (`optim`: optimizer_changes), and a preempted run's unflushed metrics (`pending`)."""
  epoch, position = experiment.epoch_of(step)
  meta = {"step": step, "epoch": epoch, "position_in_epoch": position, "identity": experiment.identity}
  return {**meta, "optim": experiment.config.optim.to_dict(), **({PENDING_METRICS: pending} if pending else {})}


def optimizer_changes(meta: Mapping[str, Any], optim: Mapping[str, Any]) -> list[str]:
  """'optim.KEY old -> new' for each optimizer setting that differs from the checkpoint's record."""
  recorded = meta.get("optim", {})
  return [f"optim.{k} {recorded[k]!r} -> {optim[k]!r}" for k in sorted(optim) if recorded.get(k, optim[k]) != optim[k]]


def _check_meta(meta: Any) -> dict[str, Any]:
  if not isinstance(meta, dict):
    raise _Corrupt(f"its meta record is a {type(meta).__name__}, not a JSON object")
  digest = meta.get(DIGEST)
  if digest is not None and digest.get("meta") != _meta_digest(meta):
    raise _Corrupt("its meta record (meta/metadata) differs from the digest written with it")
  return meta


def _check_arrays(meta: dict[str, Any], state: Any) -> None:
  expected = meta[DIGEST]["arrays"]
  found = state_digests(state)
  differing = sorted(p for p in expected.keys() | found.keys() if expected.get(p) != found.get(p))
  if differing:
    shown = ", ".join(differing[:4]) + (f" and {len(differing) - 4} more" if len(differing) > 4 else "")
    raise _Corrupt(
      f"{len(differing)} of its {len(expected)} arrays differ from the digests written with them ({shown}): "
      "their bytes changed after the checkpoint was saved"
    )


class Checkpointer:
  """The checkpoints of one run. `read_only` opens them for reading alone (evaluation, figures):
  nothing is written or deleted, so it works on a read-only copy and beside a running training."""

  def __init__(self, directory: str | pathlib.Path, *, max_to_keep: int | None = 3, read_only: bool = False):
    self.directory = pathlib.Path(directory).absolute()
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=False)
    if read_only:
      options = ocp.CheckpointManagerOptions(max_to_keep=None, save_interval_steps=0, create=False, read_only=True)
    with _quiet_absl():  # orbax notes that a read-only directory is read-only
      self._manager = ocp.CheckpointManager(self.directory, options=options, item_names=("state", "meta"))
    self._target = None  # the abstract state of the last save or restore, to verify checkpoints with
    self._warned_unverifiable: set[int] = set()

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def reload(self) -> None:
    """Lists the checkpoints again (a training beside this reader saves and deletes them)."""
    self._manager.reload()

  def all_steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def read_meta(self, step: int, *, target: Any = None) -> dict[str, Any]:
    """The meta record of `step`, checked against its digest (`target`: the state's structure, to
    name the intact checkpoints if it is corrupt)."""
    try:
      return self._read_meta(step)
    except _Corrupt as e:
      raise self._corrupt(step, e, None if target is None else _abstract(target)) from None

  def _read_meta(self, step: int) -> dict[str, Any]:
    if not (self.directory / str(step) / "meta" / "metadata").is_file():
      raise _Corrupt(f"its meta record {self.directory / str(step) / 'meta' / 'metadata'} is missing")
    try:
      meta = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta
    except (OSError, ValueError, KeyError, TypeError) as e:
      raise _Corrupt(f"its meta record cannot be read ({_first_line(e)})") from e
    return _check_meta(meta)

  def check_compatible(
    self, step: int, expected: dict[str, Any], *, renamed: Mapping[str, str] | None = None, target: Any = None
  ) -> dict[str, Any]:
    """Returns the checkpoint's meta, or raises CheckpointError listing every differing entry.

    `renamed` maps names an earlier version wrote (e.g. of a network) to today's: either is accepted.
    """
    meta = self.read_meta(step, target=target)
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
    """Restores the state onto `target`'s structure, shapes, dtypes and shardings, and checks it
    against the digest written with it: CorruptCheckpointError if it differs or cannot be read."""
    self._target = _abstract(target)
    try:
      return self._restore_verified(step, target)
    except _Corrupt as e:
      raise self._corrupt(step, e, target) from None

  def _restore_verified(self, step: int, target: Any) -> Any:
    _quiet_abandoned_reads()  # before the read: orbax closes its event loop before the error reaches us
    meta = self._read_meta(step)
    try:
      state = self._manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target))).state
    except Exception as e:  # tensorstore reports an unreadable array as a bare Exception
      self._raise_if_other_model(step, target, e)
      raise _Corrupt(self._unreadable(step), f"orbax/TensorStore: {_first_line(e)}") from e
    if DIGEST in meta:
      _check_arrays(meta, state)
    elif step not in self._warned_unverifiable:
      self._warned_unverifiable.add(step)
      logging.warning(
        "The checkpoint at step %d in %s was written without content digests (by a dvae-jax before 0.2.0); "
        "it cannot be verified.",
        step,
        self.directory,
      )
    return state

  def _raise_if_other_model(self, step: int, target: Any, cause: Exception) -> None:
    """CheckpointError if the checkpoint's recorded tree or shapes differ from `target`'s."""
    try:
      stored = _stored_tree(self.directory / str(step) / "state")
    except Exception:  # the tree's own record is unreadable: not a model mismatch
      return
    stored_shapes = {_path_name(p): tuple(m.shape) for p, m in jax.tree_util.tree_flatten_with_path(stored)[0]}
    target_shapes = {_path_name(p): tuple(x.shape) for p, x in jax.tree_util.tree_flatten_with_path(target)[0]}
    if stored_shapes != target_shapes:
      paths = stored_shapes.keys() | target_shapes.keys()
      differing = sorted(p for p in paths if stored_shapes.get(p) != target_shapes.get(p))
      raise CheckpointError(
        f"The checkpoint at step {step} in {self.directory} does not match the model built from this config: "
        f"its parameter tree or shapes differ at {', '.join(differing[:4])}"
        f"{f' and {len(differing) - 4} more' if len(differing) > 4 else ''}. Use a new --workdir, or the config "
        f"the checkpoint was trained with. Nothing was changed. (orbax: {_first_line(cause)})"
      ) from cause

  def _unreadable(self, step: int) -> str:
    required = [self.directory / str(step) / "state" / name for name in ("_METADATA", "manifest.ocdbt")]
    missing = [str(path) for path in required if not path.exists()]
    if missing:
      return f"a file of its state is missing ({', '.join(missing)})"
    return "an array of its state cannot be read: a data file in state/ is truncated or corrupt"

  def verify(self, step: int, target: Any = None) -> str | None:
    """None if `step` reads back equal to its digest (or has none), else what is wrong with it.
    `target`: the state's structure (default: that of the last save or restore)."""
    target = self._target if target is None else target
    if target is None:
      raise ValueError("verify needs the state's structure: pass `target`, or save or restore a state first.")
    try:
      self._restore_verified(step, target)
    except _Corrupt as e:
      return str(e)
    except CheckpointError as e:
      return str(e)
    return None

  def _corrupt(self, step: int, problem: _Corrupt, target: Any) -> CheckpointError:
    if not (self.directory / str(step)).exists():
      return CheckpointRemoved(f"The checkpoint at step {step} in {self.directory} was deleted while it was read.")
    target = self._target if target is None else target
    others = [s for s in reversed(self.all_steps()) if s != step]
    if target is None:
      intact = None
    else:
      intact = [s for s in others if self.verify(s, target) is None]
    newer = [s for s in self.all_steps() if s >= step and (intact is None or s not in intact)]
    if intact is None:
      known = f"Other checkpoints: {', '.join(map(str, others)) or 'none'} (not verified)."
    elif intact:
      known = f"Intact checkpoints (verified): {', '.join(map(str, intact))}."
    else:
      known = f"No other checkpoint is intact{f' ({len(others)} checked)' if others else ''}."
    aside = self.directory.parent / SET_ASIDE
    moves = " ".join(str(self.directory / str(s)) for s in newer if not intact or s > intact[0])
    go_on = (
      f"To go on from step {intact[0]}, move the newer ones aside (kept as evidence) and rerun the command: "
      f"`mkdir -p {aside} && mv {moves} {aside}/`."
      if intact
      else "Train again in a new --workdir, or restore the checkpoints from a copy."
    )
    return CorruptCheckpointError(
      f"The checkpoint at step {step} in {self.directory} is corrupt and was not used: {problem}. {known} "
      f"{go_on} Nothing was changed or deleted.{f' ({problem.detail})' if problem.detail else ''}"
    )

  def save(self, step: int, state: Any, meta: dict[str, Any]) -> None:
    """Saves `state` and `meta` (with their digests) as checkpoint `step`, in the background."""
    self._target = _abstract(state)
    meta = with_digest(meta, state)
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


def _first_line(error: Exception) -> str:
  """An error's first line, without TensorStore's multi-line spec dump."""
  text = str(error).split("See full TensorStore details")[0].strip().rstrip(".")
  return (text.splitlines()[0][:300] if text else type(error).__name__) or type(error).__name__


def _stored_tree(path: pathlib.Path) -> Any:
  """The tree of ShapeDtypeStruct-like records orbax wrote beside a state (no array is read)."""
  with _quiet_absl():  # orbax warns that the step's own metadata is elsewhere: not news
    metadata = ocp.PyTreeCheckpointer().metadata(path)
  return metadata.item_metadata.tree if hasattr(metadata, "item_metadata") else metadata.tree


def _abstract(state: Any) -> Any:
  """`state`'s arrays as ShapeDtypeStructs with their shardings: a restore target that holds no memory."""
  return jax.tree.map(
    lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding) if isinstance(x, jax.Array) else x, state
  )


@contextlib.contextmanager
def _quiet_absl():
  """orbax's warnings off inside the block (its errors still show)."""
  absl_logger = logging.getLogger("absl")
  level = absl_logger.level
  absl_logger.setLevel(logging.ERROR)
  try:
    yield
  finally:
    absl_logger.setLevel(level)


_quieted = False


class _AbandonedReadFilter(logging.Filter):
  """asyncio's "Task (or Future) exception was never retrieved" for a read of a checkpoint already
  reported unreadable: its error comes from orbax's array reads (TensorStore, OCDBT)."""

  def filter(self, record: logging.LogRecord) -> bool:
    if "exception was never retrieved" not in record.getMessage():
      return True
    error = record.exc_info[1] if record.exc_info else None
    text = f"{record.getMessage()} {error}"
    return not any(mark in text for mark in _READ_ERRORS)


_ABANDONED = "Encountered error while reading array"
_READ_ERRORS = (_ABANDONED, "OCDBT database", "tensorstore")


def _quiet_abandoned_reads() -> None:
  """After a failed restore, tensorstore finishes the reads it had started for the other arrays
  and reports each failure, and each reply to orbax's closed event loop, as an "unraisable"
  exception: dozens of tracebacks after the one clear message. Those two kinds are dropped; any
  other unraisable exception is reported as before. Installed before the first read, since they
  can come before the restore's error reaches the caller."""
  global _quieted
  if _quieted:
    return
  _quieted, previous = True, sys.unraisablehook
  warnings.filterwarnings("ignore", message="coroutine '_read_array_index_and_device_put' was never awaited")
  logging.getLogger("asyncio").addFilter(_AbandonedReadFilter())

  def hook(unraisable):
    message = str(unraisable.exc_value)
    if message == "Event loop is closed" or message.startswith(_ABANDONED):
      return
    previous(unraisable)

  sys.unraisablehook = hook


def load_host_state(directory: str | pathlib.Path, step: int | None = None) -> tuple[int, Any]:
  """(step, the train state as host numpy arrays) of a checkpoint (default: the latest complete one)
  in `directory`, whatever mesh or number of processes wrote it, without building the experiment;
  checked against its digest. For comparing runs (tests, scripts/fault_loop.py)."""
  directory = pathlib.Path(directory).absolute()
  if step is None:
    complete = [int(p.name) for p in directory.iterdir() if p.name.isdigit()] if directory.is_dir() else []
    if not complete:
      raise CheckpointError(f"no checkpoint found in {directory}.")
    step = max(complete)
  tree = _stored_tree(directory / str(step) / "state")
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), tree)
  checkpointer = Checkpointer(directory, read_only=True)
  try:
    return step, jax.device_get(checkpointer.restore(step, target))
  finally:
    checkpointer.close()
