"""A run's working directory: preparing it, its lock, resuming it, saving a state into it.

`prepare_workdir` checks that a workdir can be written before any work; `locked` holds its lock
(one writer per workdir); `restore_or_init` resumes the latest checkpoint of the experiment (after
checking it belongs to it) or starts fresh; `save_checkpoint` saves a state stepped by hand;
`output_dir` is where a reader of the run (evaluation, figures) writes. `read_run` reads a trained run
(`inference.restore_run` for users); `initialized` starts a fresh run from another (config.init_workdir).
"""

import contextlib
import json
import logging
import os
import pathlib
import tempfile
from collections.abc import Iterator

import jax
import ml_collections

from dvae_jax import clustering, configs, metric_writer, parallel, workdir_lock
from dvae_jax.checkpoint import Checkpointer, CheckpointError, CheckpointRemoved, optimizer_changes, training_meta
from dvae_jax.errors import ConfigError, WorkdirError
from dvae_jax.experiment import Experiment, TrainState, build_experiment
from dvae_jax.models import renamed


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
  match their digest), else a fresh one: the random init, or with config.init_workdir what the family
  makes of that run (`initialized`). A reader beside a running training takes the newest checkpoint
  still there when the one it was reading is deleted."""
  state = experiment.init_state()
  for attempt in range(_ATTEMPTS):
    latest = checkpointer.latest_step()
    if latest is None:
      return initialized(experiment, state, checkpointer.directory.parent), 0
    try:
      return _restore(experiment, checkpointer, latest, state), latest
    except CheckpointRemoved:
      if attempt == _ATTEMPTS - 1:
        raise
      checkpointer.reload()
  raise AssertionError("unreachable")


INITIALIZATION = "initialization.json"  # what a run's start from config.init_workdir did, in its workdir


def read_run(
  workdir: pathlib.Path, config: ml_collections.ConfigDict | None = None
) -> tuple[Experiment, TrainState, int]:
  """The experiment of a run's workdir (from its config.json unless given), its latest state and step, only
  read: a CheckpointError if it has no checkpoint. `inference.restore_run` is this for users."""
  experiment = build_experiment(config or configs.load_config(workdir))
  checkpointer = Checkpointer(workdir / "checkpoints", read_only=True)  # a reader: writes nothing, takes no lock
  try:
    if checkpointer.latest_step() is None:
      raise CheckpointError(f"no checkpoint found in {workdir / 'checkpoints'}; train first with `dvae train`.")
    state, step = restore_or_init(experiment, checkpointer)
  finally:
    checkpointer.close()
  return experiment, state, step


def initialized(experiment: Experiment, state: TrainState, workdir: pathlib.Path) -> TrainState:
  """A fresh `state`, started as its family defines (Family.initialize) from the finished run that
  config.init_workdir names, when it names one. What that did goes to WORKDIR/initialization.json with the
  clustering right after, for a model that clusters (`dvae evaluate` reports its numbers). Deterministic: a
  run stopped before its first checkpoint starts again from the same bits."""
  source_dir = experiment.config.init_workdir
  if source_dir is None:
    return state
  logging.info("Starting from the run in %s", source_dir)
  source, source_state, step = read_run(pathlib.Path(source_dir))
  _check_source(experiment, source, step)
  replicated = parallel.replicated(experiment.mesh)

  def codes(params):
    placed = state.replace(params=jax.device_put(params, replicated))
    return clustering.posterior_means(experiment, placed, experiment.splits.train)

  params, record = experiment.family.initialize(
    jax.device_get(state.params), jax.device_get(source_state.params), codes, experiment.hparams, experiment.config.seed
  )
  state = state.replace(params=jax.device_put(params, replicated))
  record = {"init_source_workdir": str(source_dir), "init_source_step": step, **record}
  for suffix, split in (("", experiment.splits.test), ("_all", clustering.every_image(experiment.splits))):
    metrics = clustering.split_metrics(experiment, state, split, suffix=suffix)
    record.update({f"init_{name}": value for name, value in metrics.items()})
  if parallel.is_primary():
    metric_writer.atomic_write_text(workdir / INITIALIZATION, json.dumps(record, indent=2, sort_keys=True) + "\n")
  return state


def _check_source(experiment: Experiment, source: Experiment, step: int) -> None:
  """A ConfigError unless the run config.init_workdir names is a finished run of the family's source family
  on the same data, preprocessed alike."""
  where = f"config.init_workdir={experiment.config.init_workdir!r}"
  wanted, found = experiment.family.init_source, source.hparams.family
  if wanted is not None and found != wanted:
    family = experiment.hparams.family
    raise ConfigError(f"{where} holds a {found!r} run; a {family!r} run starts from one of family {wanted!r}.")
  total = source.config.train.num_epochs * source.steps_per_epoch
  if step < total:
    raise ConfigError(
      f"{where} has trained {step} of its {total} steps; expected a finished run (rerun its `dvae train` to "
      "finish it). Nothing was trained."
    )
  ours = (experiment.config.data.name, experiment.preprocess_spec, experiment.hparams.image_shape)
  theirs = (source.config.data.name, source.preprocess_spec, source.hparams.image_shape)
  if ours != theirs:
    raise ConfigError(f"{where} was trained on other inputs {theirs} than this run's {ours}; expected the same.")


def _restore(experiment: Experiment, checkpointer: Checkpointer, latest: int, state: TrainState) -> TrainState:
  meta = checkpointer.check_compatible(latest, experiment.identity, renamed=renamed(), target=state)
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
