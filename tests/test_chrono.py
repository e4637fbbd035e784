"""chrono.py: the training clock, on a fake clock: validation and compilation are taken out of the training
time, a window's throughput is over training time alone, and a resumed run counts the seconds it carried over."""

import types

import pytest

from dvae_jax import chrono


@pytest.fixture
def clock(monkeypatch) -> list[float]:
  """The clock chrono.py reads (time.perf_counter), set by the test: now = clock[0]."""
  now = [100.0]
  monkeypatch.setattr(chrono, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
  return now


def test_a_window_counts_training_time_only(clock):
  resumed = []
  timer = chrono.Chrono(on_resume=lambda: resumed.append(clock[0]))
  clock[0] += 2.0  # training
  with timer.paused("valid_seconds"):
    clock[0] += 3.0
  clock[0] += 1.0  # training, of which the last 0.5 s compiled a step
  timer.exclude("compile_seconds", 0.5)
  assert timer.elapsed() == pytest.approx(2.5)
  assert resumed == [105.0, 106.0]  # the progress bar unpauses after each phase
  record = timer.window(images=50)
  assert record == {
    "images_per_second": pytest.approx(50 / 2.5),
    "valid_seconds": 3.0,
    "checkpoint_seconds": 0.0,
    "compile_seconds": 0.5,
  }
  # The next window starts from zero, its phases too.
  clock[0] += 4.0
  assert timer.window(images=8) == {"images_per_second": pytest.approx(2.0), **dict.fromkeys(chrono.PHASES, 0.0)}


def test_a_resumed_run_counts_the_training_seconds_it_carried_over(clock):
  timer = chrono.Chrono(train_seconds=6.0)  # the preempted window's, from the checkpoint
  clock[0] += 2.0
  assert timer.elapsed() == pytest.approx(8.0)
  with timer.paused("checkpoint_seconds"):
    clock[0] += 10.0
  assert timer.window(images=80) == {
    "images_per_second": pytest.approx(10.0),
    "valid_seconds": 0.0,
    "checkpoint_seconds": 10.0,
    "compile_seconds": 0.0,
  }
