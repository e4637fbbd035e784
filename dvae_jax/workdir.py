"""A run's working directory: preparing it, its lock, resuming it, saving a state into it.

`prepare_workdir` checks that a workdir can be written before any work; `locked` holds its lock
(one writer per workdir); `restore_or_init` resumes the latest checkpoint of the experiment (after
checking it belongs to it) or starts fresh; `save_checkpoint` saves a state stepped by hand;
`output_dir` is where a reader of the run (evaluation, figures) writes. Reading a trained run is
`inference.restore_run`.
"""

import contextlib
import logging
import os
import pathlib
import tempfile
from collections.abc import Iterator

import jax

from dvae_jax import configs, parallel, workdir_lock
from dvae_jax.checkpoint import Checkpointer, CheckpointRemoved, optimizer_changes, training_meta
from dvae_jax.errors import WorkdirError
from dvae_jax.experiment import Experiment, TrainState
from dvae_jax.models import ARCHITECTURES


def prepare_workdir(workdir: pathlib.Path) -> None:
  """Creates `workdir` if needed and checks that files can be written in it, before any work."""
  if workdir.exists() and not workdir.is_dir():
    raise WorkdirError(
      f"--workdir {workdir} is a file; expected a directory for the run's checkpoints and metrics (an existing "
      "run's, to resume it, or a new path, which is created). The file was not changed."
    )
  try:
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=workdir):
      pass
  except OSError as e:
    raise WorkdirError(
      f"--workdir {workdir} cannot be written ({e.strerror or e}); expected a directory this user can create files "
      "in. Nothing in it was changed."
    ) from e


def output_dir(
  workdir: pathlib.Path, out_dir: str | pathlib.Path | None, *, default: pathlib.Path, what: str
) -> pathlib.Path:
  """Where a reader of a run (evaluation, figures) writes `what`: `out_dir` if given (created),
  else `default` inside the run, if it can be written; checked before any work."""
  if out_dir is None and not os.access(workdir if not default.exists() else default, os.W_OK):
    raise WorkdirError(
      f"--workdir {workdir} cannot be written (a read-only copy or mount, or another user's run), so there is "
      f"nowhere to write {what} by default; the run itself is only read. Pass --out DIR (Python: out_dir=DIR) "
      "for the results. Nothing was changed."
    )
  target = pathlib.Path(out_dir) if out_dir is not None else default
  try:
    target.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise WorkdirError(
      f"the output directory {target} cannot be created ({e.strerror or e}); expected a directory this user can "
      "write, for " + what + ". Nothing was changed."
    ) from e
  if not os.access(target, os.W_OK):
    raise WorkdirError(f"the output directory {target} cannot be written; expected a writable directory for {what}.")
  return target


@contextlib.contextmanager
def locked(workdir: pathlib.Path, purpose: str) -> Iterator[None]:
  """Holds the workdir's lock (workdir_lock.py) inside the block; in a multi-process run process 0
  holds it for all, and every process stops if it could not."""
  lock = workdir_lock.WorkdirLock(workdir, purpose)
  refused: WorkdirError | None = None
  if parallel.is_primary():
    try:
      lock.acquire()
    except WorkdirError as e:
      refused = e
  if jax.process_count() > 1 and parallel.any_process(refused is not None) and refused is None:
    refused = WorkdirError(f"--workdir {workdir} is in use; process 0's message says by whom. Nothing was changed.")
  if refused is not None:
    raise refused
  try:
    yield
  finally:
    lock.release()


# A reader beside a training retries this often when the checkpoint it reads is deleted under it.
_ATTEMPTS = 5


def restore_or_init(experiment: Experiment, checkpointer: Checkpointer) -> tuple[TrainState, int]:
  """The latest checkpoint's state (after checking it belongs to this experiment and its contents
  match their digest), else a fresh one. A reader beside a running training takes the newest
  checkpoint still there when the one it was reading is deleted."""
  state = experiment.init_state()
  for attempt in range(_ATTEMPTS):
    latest = checkpointer.latest_step()
    if latest is None:
      return state, 0
    try:
      return _restore(experiment, checkpointer, latest, state), latest
    except CheckpointRemoved:
      if attempt == _ATTEMPTS - 1:
        raise
      checkpointer.reload()
  raise AssertionError("unreachable")


def _restore(experiment: Experiment, checkpointer: Checkpointer, latest: int, state: TrainState) -> TrainState:
  meta = checkpointer.check_compatible(latest, experiment.identity, renamed=ARCHITECTURES.renamed, target=state)
  changes = optimizer_changes(meta, experiment.config.optim.to_dict())
  if changes:
    logging.warning("Resuming step %d with changed optimizer settings: %s.", latest, ", ".join(changes))
  return checkpointer.restore(latest, state)


def save_checkpoint(experiment: Experiment, state: TrainState, workdir: str | pathlib.Path) -> int:
  """Saves a state stepped by hand (`experiment.train_step` from Python) as a checkpoint of the run
  in `workdir`, exactly as `dvae train` would at that step: `restore_run`, `dvae evaluate`,
  `dvae figures` and a resumed `dvae train` read it. Writes config.json too. Returns the step.

  Holds the workdir's lock while it writes; the checkpoint is complete when this returns.
  """
  workdir = pathlib.Path(workdir)
  prepare_workdir(workdir)
  step = int(jax.device_get(state.step))
  with locked(workdir, "saving a checkpoint"):
    configs.write_config(experiment.config, workdir)
    checkpointer = Checkpointer(workdir / "checkpoints", max_to_keep=experiment.config.train.max_checkpoints)
    try:
      checkpointer.save(step, state, training_meta(experiment, step))
      checkpointer.wait()
    finally:
      checkpointer.close()
  return step
