"""Preemption: SIGTERM / SIGINT checkpoint the step training reached, and the rerun resumes bitwise."""

import json
import pathlib
import signal

import jax
import numpy as np
import pytest

from dvae_jax import metric_writer, parallel, train
from dvae_jax.checkpoint import Checkpointer
from dvae_jax.experiment import Experiment, build_experiment
from dvae_jax.metric_writer import PARTIAL_WINDOW, MetricWriter, read_metrics, reproducible_records
from dvae_jax.preemption import Preempted, StopRequest


def _final_state(experiment: Experiment, workdir: pathlib.Path):
  checkpointer = Checkpointer(workdir / "checkpoints")
  try:
    return checkpointer.latest_step(), jax.device_get(
      checkpointer.restore(checkpointer.latest_step(), experiment.init_state())
    )
  finally:
    checkpointer.close()


def _assert_trees_equal(a, b) -> None:
  assert jax.tree.structure(a) == jax.tree.structure(b)
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
    assert np.asarray(x).tobytes() == np.asarray(y).tobytes()


@pytest.fixture(scope="module")
def config(tiny_config):
  # 16 steps; flushes at 4, 8, 12, 16, checkpoints at 8 and 16: step 5 is neither.
  return tiny_config(family="vae", train__num_epochs=2, train__checkpoint_every_steps=8, train__max_checkpoints=10)


@pytest.fixture(scope="module")
def uninterrupted(config, tmp_path_factory):
  workdir = tmp_path_factory.mktemp("uninterrupted")
  experiment = build_experiment(config)
  valid = train.run_training(experiment, workdir)
  return experiment, workdir, valid


def _signal_after(experiment: Experiment, dispatches: int, signum: int) -> None:
  """Sends `signum` to this process right after the `dispatches`-th train step call returns."""
  real_step, calls = experiment.train_step, [0]

  def step_then_signal(state, batch):
    result = real_step(state, batch)
    calls[0] += 1
    if calls[0] == dispatches:
      signal.raise_signal(signum)
    return result

  experiment.train_step = step_then_signal


def test_sigterm_checkpoints_that_step_and_the_rerun_resumes_bitwise(config, uninterrupted, tmp_path, monkeypatch):
  experiment, reference_dir, reference_valid = uninterrupted
  sentinel = lambda signum, frame: None  # noqa: E731
  previous, previous_int = signal.signal(signal.SIGTERM, sentinel), signal.getsignal(signal.SIGINT)
  try:
    interrupted = build_experiment(config)
    _signal_after(interrupted, 5, signal.SIGTERM)
    # A second signal (Ctrl-C) while the checkpoint is written is ignored until it is complete.
    real_save, saves = Checkpointer.save, []

    def save_interrupted(self, step, state, meta):
      signal.raise_signal(signal.SIGINT)
      real_save(self, step, state, meta)
      saves.append(step)

    monkeypatch.setattr(Checkpointer, "save", save_interrupted)
    with pytest.raises(Preempted, match=r"^SIGTERM received: training stopped after step 5, checkpointed in"):
      train.run_training(interrupted, tmp_path)
    assert signal.getsignal(signal.SIGTERM) is sentinel  # the handlers are the caller's again
    assert signal.getsignal(signal.SIGINT) is previous_int
  finally:
    signal.signal(signal.SIGTERM, previous)
  monkeypatch.undo()
  assert saves == [5]
  step, state = _final_state(experiment, tmp_path)
  assert step == 5 and int(state.step) == 5
  # The window of steps 5..8 was cut short: it is on disk, marked, and the resumed run rewrites it whole.
  records = read_metrics(tmp_path)
  assert [(r["step"], r.get(PARTIAL_WINDOW)) for r in records] == [(4, None), (5, 1.0)]

  resumed = build_experiment(config)
  assert train.run_training(resumed, tmp_path) == reference_valid
  assert reproducible_records(tmp_path) == reproducible_records(reference_dir)
  _assert_trees_equal(_final_state(resumed, tmp_path)[1], _final_state(experiment, reference_dir)[1])
  # TensorBoard, as its reader sees the event files, holds exactly the records of metrics.jsonl: the
  # partial window at step 5 that the resume dropped is gone there too.
  assert tensorboard_steps(tmp_path / "tb") == jsonl_steps(tmp_path) == jsonl_steps(reference_dir)


def tensorboard_steps(directory: pathlib.Path) -> dict[str, list[int]]:
  from tensorboard.backend.event_processing import event_accumulator

  events = event_accumulator.EventAccumulator(str(directory), size_guidance={event_accumulator.SCALARS: 0})
  events.Reload()
  steps = {tag: sorted(e.step for e in events.Scalars(tag)) for tag in events.Tags()["scalars"]}
  return {tag: values for tag, values in steps.items() if values}  # a purged tag stays, empty


def jsonl_steps(workdir: pathlib.Path) -> dict[str, list[int]]:
  steps: dict[str, list[int]] = {}
  for record in read_metrics(workdir):
    for name in record.keys() - {"step", "split"}:
      steps.setdefault(f"{record['split']}/{name}", []).append(record["step"])
  return {tag: sorted(values) for tag, values in steps.items()}


def test_stop_at_a_checkpoint_step_and_with_several_steps_per_dispatch(tiny_config, tmp_path):
  """A stop on a step that is checkpointed anyway saves once; with 3 steps per dispatch the stop
  comes at the end of the dispatch that reaches the step, and the resume continues its chunks."""
  config = tiny_config(family="vae", train__num_epochs=2, train__checkpoint_every_steps=8, train__steps_per_dispatch=3)
  reference = build_experiment(config)
  reference_valid = train.run_training(reference, tmp_path / "reference")
  experiment = build_experiment(config)
  with pytest.raises(Preempted, match="stop_at_step=8 reached: training stopped after step 8"):
    train.run_training(experiment, tmp_path / "run", stop_at_step=8)  # chunks 3, 3, 2: epoch end
  with pytest.raises(Preempted, match="after step 11"):
    train.run_training(experiment, tmp_path / "run", stop_at_step=10)  # epoch 2's chunks end at 11, 14, 16
  assert train.run_training(experiment, tmp_path / "run") == reference_valid
  assert reproducible_records(tmp_path / "run") == reproducible_records(tmp_path / "reference")
  _assert_trees_equal(_final_state(experiment, tmp_path / "run")[1], _final_state(reference, tmp_path / "reference")[1])


def test_handlers_are_restored_after_a_complete_run(config, uninterrupted, tmp_path):
  experiment, _, _ = uninterrupted
  before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
  train.run_training(experiment, tmp_path)
  assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_processes_agree_on_the_stop_every_poll_interval(monkeypatch):
  """With several processes the local flag is combined across them, at the same steps everywhere."""
  combined = []
  monkeypatch.setattr(jax, "process_count", lambda: 2)
  monkeypatch.setattr(parallel, "any_process", lambda flag: combined.append(flag) or True)
  request = StopRequest(None)
  assert request.reason(0, 9) is None and combined == []  # no multiple of 10 crossed: no all-gather
  assert request.reason(9, 10) == "a signal to another process received" and combined == [False]
  assert request.reason(10, 10, final=True) is not None and combined == [False, False]


def test_metrics_rewrite_on_resume_is_atomic(tmp_path, monkeypatch):
  lines = [{"step": s, "split": "train", "loss": float(s)} for s in (4, 8, 12)]
  original = "".join(json.dumps(r) + "\n" for r in lines) + '{"step": 16, "spl'  # killed mid-append
  (tmp_path / "metrics.jsonl").write_text(original)

  def failing_replace(source, target):
    raise OSError("disk gone")

  monkeypatch.setattr(metric_writer.os, "replace", failing_replace)
  with pytest.raises(OSError, match="disk gone"):
    MetricWriter(tmp_path, resume_step=8)
  assert (tmp_path / "metrics.jsonl").read_text() == original  # untouched
  assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.jsonl"]  # no temporary file left
  monkeypatch.undo()
  MetricWriter(tmp_path, resume_step=8).close()
  assert [r["step"] for r in read_metrics(tmp_path)] == [4, 8]  # the unfinished line is dropped too
  assert not list(tmp_path.glob(".metrics.jsonl.tmp-*"))


# The `dvae train` command itself (exit status 75, its one-line message, the rerun) is run as pods
# run it, in several processes, by tests/test_parallel.py.
