"""The training clock: throughput over training time alone, as big_vision's `u.chrono` and scenic's
`Chrono` keep it.

Validation, checkpoint writes and compilation are named phases paused out of the training time;
each metrics window reports images per second over training time and the seconds of each phase.
A preempted run carries the open window's training seconds in its checkpoint, so that the resumed
run's first record counts them (`elapsed`, and `Chrono(train_seconds=...)`).
"""

import contextlib
import time
from collections.abc import Callable, Iterator

PHASES = ("valid_seconds", "checkpoint_seconds", "compile_seconds")


class Chrono:
  """Training time of the current metrics window, and the time of the phases paused out of it.

  `on_resume` is called whenever the training clock starts again (the progress bar's unpause: its
  rate and ETA then count training time only).
  """

  def __init__(self, train_seconds: float = 0.0, *, on_resume: Callable[[], None] | None = None):
    self.train_seconds = train_seconds  # training time of the window before `_started`
    self.phases = dict.fromkeys(PHASES, 0.0)
    self._started = time.perf_counter()
    self._on_resume = on_resume or (lambda: None)

  @contextlib.contextmanager
  def paused(self, phase: str) -> Iterator[None]:
    """The block's wall time counts as `phase`, not as training time. Callers make the work
    dispatched before it finish first: that is training time."""
    start = time.perf_counter()
    self.train_seconds += start - self._started
    try:
      yield
    finally:
      self._started = time.perf_counter()
      self.phases[phase] += self._started - start
      self._on_resume()

  def exclude(self, phase: str, seconds: float) -> None:
    """Takes `seconds` that just passed on the training clock (a step's compilation) out of it."""
    self._started += seconds
    self.phases[phase] += seconds
    self._on_resume()

  def elapsed(self) -> float:
    """Training seconds of the open window so far."""
    return self.train_seconds + time.perf_counter() - self._started

  def window(self, images: int) -> dict[str, float]:
    """Closes the window that trained `images` images: its images per second over training time
    and each phase's seconds; the next window starts now."""
    self.train_seconds += time.perf_counter() - self._started
    record = {"images_per_second": images / max(self.train_seconds, 1e-9), **self.phases}
    self.train_seconds, self._started = 0.0, time.perf_counter()
    self.phases = dict.fromkeys(PHASES, 0.0)
    return record
