"""Stopping a training run cleanly: on SIGTERM or SIGINT (how pods preempt jobs, and Ctrl-C), or at
a given step, after a durable checkpoint of the step reached, so that rerunning the same command
resumes and ends bitwise equal to an uninterrupted run.

The loop (train.py) asks `StopRequest.reason` after every dispatch; a stop raises `Preempted`,
which `dvae train` turns into exit status PREEMPTED_EXIT_STATUS. The metrics of the steps since the
last written record travel in the checkpoint (checkpoint.PENDING_METRICS) and are written by the resumed run.
"""

import contextlib
import logging
import pathlib
import signal
import threading
from typing import Any

import jax
import numpy as np

from dvae_jax import parallel

# `dvae train` exits with this status when SIGTERM or SIGINT stopped training after a checkpoint of
# the step it had reached: EX_TEMPFAIL of sysexits.h, "a temporary failure: retry", which is what
# a job scheduler should do (rerun the same command; it resumes). Not 143 (128 + SIGTERM): a shell
# reports that for a process SIGTERM killed outright, with nothing saved, and a wrapper must be
# able to tell the two apart.
PREEMPTED_EXIT_STATUS = 75


class Preempted(Exception):
  """Training stopped early on request (a signal, or `stop_at_step`), after a durable checkpoint of `step`."""

  def __init__(self, step: int, workdir: pathlib.Path, reason: str):
    self.step, self.workdir, self.reason = step, workdir, reason
    super().__init__(
      f"{reason}: training stopped after step {step}, checkpointed in {workdir / 'checkpoints' / str(step)}; "
      "rerun the same command to resume from it."
    )


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# In a multi-process run the processes agree on a stop every this many steps: the agreement is an
# all-gather, which synchronizes the hosts, so it is not done at every dispatch.
STOP_POLL_STEPS = 10


class StopRequest:
  """Whether training should stop after the step it has reached: a signal came, or `stop_at_step` is reached.

  Every process of a multi-process run must stop after the same step (the checkpoint is a collective
  write): a signal to any process stops all of them, at the next multiple of STOP_POLL_STEPS.
  """

  def __init__(self, stop_at_step: int | None):
    self.stop_at_step = stop_at_step
    self.received: str | None = None

  @contextlib.contextmanager
  def signals(self):
    """While inside, SIGTERM and SIGINT ask for a stop instead of killing the process; the previous
    handlers come back on exit, so tests and library users keep theirs."""
    if threading.current_thread() is not threading.main_thread():
      logging.info("Training runs outside the main thread, where Python cannot handle signals: no preemption handling.")
      yield
      return
    previous = {signum: signal.signal(signum, self._handle) for signum in STOP_SIGNALS}
    try:
      yield
    finally:
      for signum, handler in previous.items():
        # None: a handler installed outside Python, which Python cannot put back; the default stands in.
        signal.signal(signum, signal.SIG_DFL if handler is None else handler)

  def _handle(self, signum: int, frame) -> None:
    name = signal.Signals(signum).name
    if self.received is None:
      self.received = name
      logging.warning("%s received: training stops after the current step, with a checkpoint of it.", name)
    else:
      # Interrupting the save could leave no checkpoint of the step the run stops at (orbax writes a
      # temporary directory and renames it when complete, so never a corrupt one).
      logging.warning("%s received again: ignored until the checkpoint being written is complete.", name)

  def reason(self, previous: int, step: int, *, final: bool = False) -> str | None:
    """Why to stop after the dispatch of steps (previous, step], or None to go on. `final`: after the last step."""
    if self.stop_at_step is not None and step >= self.stop_at_step:
      return f"stop_at_step={self.stop_at_step} reached"
    received = self.received is not None
    if jax.process_count() > 1:
      if not (final or crossed(previous, step, STOP_POLL_STEPS)):
        return None
      received = parallel.any_process(received)  # every process calls it at the same steps
    return f"{self.received or 'a signal to another process'} received" if received else None


def history_to_json(history: list[tuple[int, Any]]) -> list[dict[str, Any]]:
  """Per-step metrics as JSON; float32 values survive the round trip through Python floats exactly."""
  return [
    {
      "first_step": first,
      "metrics": {name: {"dtype": str(value.dtype), "values": value.tolist()} for name, value in host.items()},
    }
    for first, host in ((first, jax.device_get(metrics)) for first, metrics in history)
  ]


def pending_history(pending: dict[str, Any] | None) -> list[tuple[int, dict[str, np.ndarray]]]:
  return [
    (entry["first_step"], {name: np.asarray(m["values"], m["dtype"]) for name, m in entry["metrics"].items()})
    for entry in (pending or {}).get("history", [])
  ]


def crossed(previous: int, step: int, every: int) -> bool:
  """Whether a multiple of `every` lies in (previous, step]."""
  return step // every > previous // every
