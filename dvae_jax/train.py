"""The one training loop, for every model family: `train_and_evaluate(config, workdir)`.

The experiment (experiment.py) holds the model, objective and compiled steps; this loop feeds it
batches, writes metrics and checkpoints, validates at every epoch end, stops on NaN/Inf, and stops
cleanly on preemption (preemption.py), so that a rerun resumes bit for bit.
"""

import contextlib
import dataclasses
import logging
import pathlib
import time
from typing import Any

import jax
import ml_collections
import numpy as np

from dvae_jax import batch_norm, configs, parallel, reports
from dvae_jax.checkpoint import PENDING_METRICS, Checkpointer, training_meta
from dvae_jax.chrono import Chrono
from dvae_jax.data import train_batches
from dvae_jax.experiment import Experiment, TrainState, build_experiment, evaluate_split
from dvae_jax.metric_writer import PARTIAL_WINDOW, MetricWriter, read_metrics
from dvae_jax.preemption import Preempted, StopRequest, crossed, history_to_json, pending_history
from dvae_jax.workdir import locked, prepare_workdir, restore_or_init


class NonFiniteError(FloatingPointError):
  """Training produced a NaN or Inf; the last good checkpoint is kept."""


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | pathlib.Path) -> dict[str, float]:
  """Trains (resuming from the latest checkpoint in `workdir`), validating every epoch.

  Returns the last validation metrics.
  """
  return run_training(build_experiment(config), workdir)


def run_training(
  experiment: Experiment, workdir: str | pathlib.Path, *, stop_at_step: int | None = None
) -> dict[str, float]:
  """`train_and_evaluate` for an already built experiment (tests inspect its trace counts).

  SIGTERM or SIGINT during training (how pods preempt jobs, and Ctrl-C) stops it after the current
  step with a checkpoint of that step, then raises `Preempted`; `stop_at_step` does the same once
  training reaches that step (`dvae check-repro` interrupts runs this way). Rerunning resumes, and
  the resumed run's state and metrics equal an uninterrupted run's bit for bit.
  """
  workdir = pathlib.Path(workdir)
  prepare_workdir(workdir)
  with contextlib.ExitStack() as stack:
    stack.enter_context(locked(workdir, "training"))  # one writer per workdir
    checkpointer = Checkpointer(workdir / "checkpoints", max_to_keep=experiment.config.train.max_checkpoints)
    stack.callback(checkpointer.close)
    stack.callback(checkpointer.wait)  # runs first: the last save completes before the lock is released
    state, start_step = restore_or_init(experiment, checkpointer)
    total_steps = experiment.config.train.num_epochs * experiment.steps_per_epoch
    if start_step >= total_steps:  # nothing to train, validate or draw: the recorded metrics stand
      logging.info(
        "The run in %s is already trained to step %d (train.num_epochs=%d): nothing left to do; its last "
        "validation metrics are read from metrics.jsonl. More epochs: raise --config.train.num_epochs.",
        workdir,
        start_step,
        experiment.config.train.num_epochs,
      )
      return _last_validation(workdir)
    configs.write_config(experiment.config, workdir)
    if start_step:
      logging.info("Resuming from the checkpoint at step %d in %s", start_step, workdir)
    batch_norm.warn_if_statistics_stay_biased(experiment)
    writer = stack.enter_context(
      contextlib.closing(MetricWriter(workdir, resume_step=start_step, active=parallel.is_primary()))
    )
    pending = checkpointer.read_meta(start_step).get(PENDING_METRICS) if start_step else None
    return _train_loop(experiment, state, start_step, checkpointer, writer, workdir, stop_at_step, pending)


@dataclasses.dataclass
class _Loop:
  """What the loop carries from step to step: the state, the metrics since the last record
  (`history`: (first step, metrics [k]) per dispatch), the clock, and where it all goes."""

  experiment: Experiment
  state: TrainState
  checkpointer: Checkpointer
  writer: MetricWriter
  workdir: pathlib.Path
  progress: Any
  chrono: Chrono
  history: list[tuple[int, Any]]

  def paused(self, phase: str):
    """A phase outside training time; the steps already dispatched finish first (they are training time)."""
    jax.block_until_ready(self.state)
    return self.chrono.paused(phase)

  def flush(self, step: int, *, partial: bool = False) -> None:
    """Writes the mean metrics of the steps since the last record. A `partial` window (cut short by
    a preemption) is marked so, and the resumed run rewrites it whole: see MetricWriter."""
    if not self.history:
      return
    host = [(first, jax.device_get(m)) for first, m in self.history]
    self.progress.update(step - self.history[-1][0])  # the last dispatch, now finished
    _check_finite(host, self.checkpointer, self.workdir)
    means = _mean_history(host)
    timing = self.chrono.window((step - host[0][0]) * self.experiment.config.train.batch_size)
    marker = {PARTIAL_WINDOW: 1.0} if partial else {}
    self.writer.write(step, "train", {**means, **timing, **marker})
    # The logged per-image training objective, under its name in metrics.jsonl (nats per image).
    self.progress.set_postfix(
      objective_nats=f"{means['objective_nats']:.2f}", img_s=f"{timing['images_per_second']:.0f}"
    )
    self.history = []

  def save(self, step: int, pending: dict[str, Any] | None = None) -> None:
    with self.paused("checkpoint_seconds"):
      self.checkpointer.save(step, self.state, training_meta(self.experiment, step, pending))

  def end_epoch(self, step: int, epoch: int, epoch_start: float) -> dict[str, float]:
    """Validation metrics (checked finite) with the epoch's wall time since `epoch_start` (training,
    validation, checkpoints), and the epoch's console line; {} without a validation split."""
    cfg, splits = self.experiment.config.train, self.experiment.splits
    if not len(splits.valid):
      self.writer.write(step, "epoch", {"epoch": epoch, "epoch_seconds": time.perf_counter() - epoch_start})
      return {}
    with self.paused("valid_seconds"):
      valid = evaluate_split(self.experiment, self.state, splits.valid)
    named_history = [(step - 1, {f"valid/{k}": np.array([v]) for k, v in valid.items()})]
    _check_finite(named_history, self.checkpointer, self.workdir)
    seconds = time.perf_counter() - epoch_start
    self.writer.write(step, "valid", {**valid, "epoch": epoch, "epoch_seconds": seconds})
    if cfg.progress_bar and parallel.is_primary():
      model = self.experiment.config.model
      named = {**valid, "family": self.experiment.hparams.family, "likelihood": model.get("likelihood")}
      self.progress.write(_epoch_line(epoch, cfg.num_epochs, named, seconds))
    return valid

  def stop(self, step: int, reason: str, *, saved: bool) -> Preempted:
    """Checkpoints `step` (unless `saved`) with its unflushed metrics, waits until it is durable."""
    if not saved:
      jax.block_until_ready(self.state)
      pending = {"history": history_to_json(self.history), "train_seconds": self.chrono.elapsed()}
      self.flush(step, partial=True)  # also checks finiteness: a NaN state is never saved
      self.save(step, pending)
    self.checkpointer.wait()
    self.progress.close()
    return Preempted(step, self.workdir, reason)


def _train_loop(
  experiment: Experiment,
  state: TrainState,
  step: int,
  checkpointer: Checkpointer,
  writer: MetricWriter,
  workdir: pathlib.Path,
  stop_at_step: int | None = None,
  pending: dict[str, Any] | None = None,
) -> dict[str, float]:
  cfg = experiment.config.train
  total_steps = cfg.num_epochs * experiment.steps_per_epoch
  profiler = _StepProfiler(workdir / "profile", cfg.profile_start_step, cfg.profile_steps)
  progress = _progress_bar(cfg.progress_bar, total=total_steps, initial=step)
  # Throughput counts training time only (the bar's rate and ETA too): validation, checkpoint
  # writes and compilation are paused out of it. A preempted run left its open window in the checkpoint.
  chrono = Chrono((pending or {}).get("train_seconds", 0.0), on_resume=progress.unpause)
  loop = _Loop(experiment, state, checkpointer, writer, workdir, progress, chrono, pending_history(pending))
  valid: dict[str, float] = {}
  resumed_at, stop_request = step, StopRequest(stop_at_step)
  epoch_start = time.perf_counter()  # wall time per epoch: training, validation and checkpoints
  # closing: an error leaves the bar finished with a newline, so that its message starts a line of its own.
  with stop_request.signals(), contextlib.closing(progress):
    while step < total_steps:
      epoch, position = experiment.epoch_of(step)
      progress.set_description(f"epoch {epoch + 1}/{cfg.num_epochs}", refresh=False)
      train_step = experiment.train_step_for(epoch)  # a solo epoch's VAE-only step, or the full one
      batches = train_batches(
        experiment.splits.train,
        key=experiment.keys["data"],
        epoch=epoch,
        batch_size=cfg.batch_size,
        start_step=position,
        steps_per_dispatch=cfg.steps_per_dispatch,
      )
      for first, batch in batches:
        profiler.before(step)
        traced, call_start = experiment.traces["train"], time.perf_counter()
        # The rows, not yet gathered: the step gathers them on the device when the training split
        # is kept there (data.on_device), else on the host; the same batches either way.
        loop.state, metrics = train_step(loop.state, batch)
        if experiment.traces["train"] != traced:  # this call traced and compiled before dispatching
          chrono.exclude("compile_seconds", time.perf_counter() - call_start)
        previous, step = step, step + len(batch)
        profiler.after(step, loop.state)
        loop.history.append((previous, metrics))
        # Dispatch is asynchronous: the bar (and its ETA) advances when the previous dispatch has
        # finished, not when this one was queued, so it neither runs ahead nor stalls at log steps.
        # One dispatch stays queued behind the running one, so the device never waits for the host.
        if len(loop.history) > 1 and loop.history[-2][0] >= resumed_at:  # not a step the preempted run took
          jax.block_until_ready(loop.history[-2][1])
          progress.update(previous - loop.history[-2][0])
        at_epoch_end = first + len(batch) == experiment.steps_per_epoch
        checkpoint_due = crossed(previous, step, cfg.checkpoint_every_steps) or at_epoch_end
        if checkpoint_due:
          # orbax writes in the background; the previous checkpoint is made complete before this
          # step's metrics are written (its save would wait for it anyway), so a kill at any
          # instant loses at most one checkpoint interval of logged steps (scripts/fault_loop.py).
          with loop.paused("checkpoint_seconds"):
            checkpointer.wait()
        if checkpoint_due or crossed(previous, step, cfg.log_every_steps):
          loop.flush(step)  # checks finiteness before anything is saved
        if at_epoch_end:
          valid = loop.end_epoch(step, epoch + 1, epoch_start) or valid
          epoch_start = time.perf_counter()
        if checkpoint_due:
          loop.save(step)
        reason = stop_request.reason(previous, step)
        if reason:
          raise loop.stop(step, reason, saved=checkpoint_due)
    checkpointer.wait()  # a signal that comes now stops nothing, but must not cut the last save short
    reason = stop_request.reason(step, step, final=True)
    if reason:
      raise loop.stop(step, reason, saved=True)
  progress.unpause()  # the final rate: training time only
  progress.close()
  profiler.after(None, loop.state)
  if not valid and experiment.config.train.num_epochs:
    valid = evaluate_split(experiment, loop.state, experiment.splits.valid)
  if experiment.family.generative:
    from dvae_jax.figures import save_reconstructions  # matplotlib: only once there is a grid to draw

    grid = save_reconstructions(experiment, loop.state, experiment.splits.valid, workdir / "reconstructions.png")
    if grid is not None:
      writer.image(step, "valid/reconstructions", grid)
  return valid


def _last_validation(workdir: pathlib.Path) -> dict[str, float]:
  """The last validation record of metrics.jsonl, as `run_training` returns it ({} without one)."""
  records = [r for r in read_metrics(workdir) if r.get("split") == "valid"]
  if not records:
    return {}
  return {k: v for k, v in records[-1].items() if k not in ("step", "split", "epoch", "epoch_seconds")}


def _check_finite(history: list[tuple[int, dict[str, np.ndarray]]], checkpointer: Checkpointer, workdir) -> None:
  """Raises NonFiniteError naming the first step with a NaN/Inf metric, and which metrics."""
  for first_step, metrics in history:
    bad = {name: np.flatnonzero(~np.isfinite(values)) for name, values in metrics.items()}
    bad = {name: index[0] for name, index in bad.items() if index.size}
    if not bad:
      continue
    offset = min(bad.values())
    names = sorted((n for n, i in bad.items() if i == offset), key=lambda n: (n != "loss", n))
    values = ", ".join(f"{n}={metrics[n][offset]}" for n in names)
    checkpointer.wait()
    raise NonFiniteError(
      f"Training stopped: metric {names[0]!r} is not finite at step {first_step + offset + 1} "
      f"({values}; every step before it was finite); {_last_checkpoint(checkpointer, workdir)}. "
      "Consider a lower optim.learning_rate, gradient clipping (optim.clip_value) or a config error."
    )


def _last_checkpoint(checkpointer: Checkpointer, workdir: pathlib.Path) -> str:
  """What a rerun would resume from: the latest checkpoint, called good only once verified."""
  last = checkpointer.latest_step()
  if last is None:
    return "no checkpoint had been written yet"
  problem = checkpointer.verify(last)
  if problem is None:
    return f"the last checkpoint (step {last}) in {workdir} is kept and verified intact, and a rerun resumes from it"
  return (
    f"the last checkpoint (step {last}) in {workdir} is kept but fails its check ({problem}); a rerun names the "
    "intact checkpoints and how to go on from them"
  )


def _mean_history(history: list[tuple[int, dict[str, np.ndarray]]]) -> dict[str, float]:
  names = history[0][1]
  return {name: float(np.mean(np.concatenate([m[name] for _, m in history]))) for name in names}


class _StepProfiler:
  """Traces steps [start, start + count) with jax.profiler (count 0: never)."""

  def __init__(self, directory: pathlib.Path, start: int, count: int):
    self.directory, self.start, self.stop, self.active = directory, start, start + count, False
    self.enabled = count > 0 and parallel.is_primary()

  def before(self, step: int) -> None:
    if self.enabled and not self.active and self.start <= step < self.stop:
      jax.profiler.start_trace(str(self.directory), create_perfetto_trace=True)
      self.active = True

  def after(self, step: int | None, state) -> None:
    """After a dispatch reaching `step` (None: training ended): stops the trace once past its range."""
    if self.active and (step is None or step >= self.stop):
      jax.block_until_ready(state)  # the traced steps must finish inside the trace
      jax.profiler.stop_trace()
      self.active, self.enabled = False, False
      logging.info("Profiler trace of steps %d-%d written to %s", self.start, self.stop - 1, self.directory)


def _epoch_line(epoch: int, num_epochs: int, valid: dict[str, float], seconds: float, *, rows: int = 3) -> str:
  """One console line per epoch: the first `rows` headline metrics (reports.HEADLINE) of validation."""
  shown = [f"{label.strip()} {valid[key]:.4f}" for label, key in reports.headline_rows(valid)][:rows]
  return f"epoch {epoch}/{num_epochs} ({seconds:.0f} s), validation: " + "; ".join(shown)


def _progress_bar(enabled: bool, *, total: int, initial: int):
  from tqdm.auto import tqdm

  return tqdm(total=total, initial=initial, unit="step", disable=not enabled, dynamic_ncols=True)
