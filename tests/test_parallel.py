"""parallel.py: a batch becomes the same global arrays whether each process gathers its devices' rows or the
host gathers them whole, and rows gathered on the devices from a split kept there are the host's batches; and
multi-process data parallelism, really run: `dvae train --distributed` as 2 processes x 2 CPU devices joined by
jax.distributed on 127.0.0.1, against this process's 4 devices (`dvae check-repro`'s process check), and
preempted (SIGTERM to one process) then restarted.

The multi-process runs are subprocesses (jax.distributed cannot be initialized twice in one process); they share
the suite's persistent compilation cache.
"""

import pathlib
import signal
import subprocess
import time

import jax
import numpy as np
import pytest

from dvae_jax import local_processes, parallel, repro
from dvae_jax.checkpoint import load_host_state
from dvae_jax.configs import load_experiment
from dvae_jax.data import (
  PreprocessSpec,
  binarize_statically,
  eval_batches,
  train_batches,
)
from dvae_jax.metric_writer import reproducible_records
from dvae_jax.preemption import PREEMPTED_EXIT_STATUS, STOP_POLL_STEPS
from tests.helpers import image_splits, numbered_split


def test_a_batch_becomes_the_same_global_arrays_whether_gathered_by_rows_or_whole():
  """`parallel.global_batch` of a lazy Batch (each process gathers its devices' rows) equals that
  of the gathered host arrays, for a [k, B] training chunk and a padded, masked evaluation batch."""
  mesh = parallel.make_mesh(4)
  split = numbered_split(10)
  (_, chunk), *_ = train_batches(
    split, key=jax.random.key(0), epoch=0, batch_size=4, start_step=0, steps_per_dispatch=2
  )
  evaluation = list(eval_batches(split, 8))[-1]  # rows 8, 9 and six padding rows
  for batch, sharding in (
    (chunk, parallel.batch_sharding(mesh, leading_axes=1)),
    (evaluation, parallel.batch_sharding(mesh)),
  ):
    assert parallel.local_rows(sharding, batch.index.shape) == slice(0, batch.index.shape[-1])  # one process: all
    lazy, whole = parallel.global_batch(batch, sharding), parallel.global_batch(batch.rows(), sharding)
    assert set(lazy) == set(whole) == {"image", "label", "id"} | ({"mask"} if batch.mask is not None else set())
    for name in lazy:
      assert lazy[name].sharding == whole[name].sharding
      np.testing.assert_array_equal(lazy[name], whole[name])
  np.testing.assert_array_equal(evaluation["mask"], [1, 1, 0, 0, 0, 0, 0, 0])


@pytest.mark.parametrize("num_devices", [1, 4])
def test_rows_gathered_on_the_device_are_the_host_batches(num_devices):
  """`parallel.gather_rows` from a split kept on the devices gives, for each [k, B] training chunk,
  the arrays and sharding `global_batch` builds on the host: the same batches on the same devices."""
  mesh = parallel.make_mesh(num_devices)
  sharding = parallel.batch_sharding(mesh, leading_axes=1)
  split = binarize_statically(image_splits(30, (4, 4, 1)), PreprocessSpec(binarize="static"), jax.random.key(1)).train
  resident = parallel.resident_split(split.take(slice(None), split.input_fields), mesh)
  assert all(value.sharding.is_fully_replicated for value in resident.values())
  gather = jax.jit(lambda resident, index: parallel.gather_rows(resident, index, sharding))
  chunks = train_batches(split, key=jax.random.key(0), epoch=1, batch_size=8, start_step=0, steps_per_dispatch=2)
  for _, batch in chunks:  # [2, 8] then [1, 8]
    on_device, on_host = (
      gather(resident, parallel.global_index(batch.index, sharding)),
      parallel.global_batch(batch, sharding),
    )
    assert set(on_device) == set(on_host) == {"binarized", "label", "id"}
    for name in on_host:
      assert on_device[name].sharding.is_equivalent_to(on_host[name].sharding, on_host[name].ndim), name
      assert on_device[name].dtype == on_host[name].dtype
      np.testing.assert_array_equal(on_device[name], on_host[name])


# 256 images in batches of 32: 8 steps per epoch, 3 epochs; a checkpoint every 8 steps (smoke).
STEPS_PER_EPOCH, EPOCHS = 8, 3


def _launch(config_file: pathlib.Path, workdir: pathlib.Path) -> list[subprocess.Popen]:
  return local_processes.start_training_processes(config_file, workdir, processes=2, devices_per_process=2)


@pytest.fixture(scope="module")
def process_check(shared_data, tmp_path_factory) -> tuple[dict, pathlib.Path]:
  """`dvae check-repro`'s process check: this process (4 devices) vs 2 processes x 2 devices."""
  config = load_experiment("mnist_vae", "smoke")
  config.data.dir = str(shared_data)
  config.data.train_limit = 256
  config.data.eval_limit = 64
  config.train.grid_images = 0
  config.train.num_epochs = EPOCHS
  config.train.progress_bar = False
  config.lock()
  runs_dir = tmp_path_factory.mktemp("mp")
  check = repro.process_check(config, runs_dir, processes=2, devices_per_process=2)
  return check, runs_dir


def test_two_processes_match_one_process_of_four_devices(process_check):
  check, runs_dir = process_check
  assert check["passed"], check
  details = check["details"]
  # Not bitwise: the cross-process all-reduce (gloo) sums the gradient shards in another order than
  # the in-process one. The documented tolerance of `dvae check-repro`: Adam moves each parameter
  # at most about one learning rate per step.
  assert details["param_tolerance"] == pytest.approx(repro.PARAM_TOLERANCE_FACTOR * 1e-3 * STEPS_PER_EPOCH * EPOCHS)
  assert 0 < max(group["max_abs"] for group in details["params"].values()) <= details["param_tolerance"]
  assert details["first_window"]["relative"] <= repro.LOSS_TOLERANCE
  # Process 0 alone wrote the metrics: one record per (step, split), as a single-process run writes.
  assert details["records"][0] == details["records"][1] == len(reproducible_records(runs_dir / "processes_2"))
  step, _ = load_host_state(runs_dir / "processes_2" / "checkpoints")
  assert step == STEPS_PER_EPOCH * EPOCHS


def test_two_processes_preempted_and_restarted_resume_bitwise(process_check, tmp_path):
  _, runs_dir = process_check
  uninterrupted, config_file = runs_dir / "processes_2", runs_dir / "processes_config" / "config.py"
  workdir = tmp_path / "preempted"
  procs = _launch(config_file, workdir)
  # SIGTERM to process 1 only, once a first checkpoint exists: both processes must agree to stop
  # after the same step (the next multiple of STOP_POLL_STEPS, or the last step) and checkpoint it.
  deadline = time.monotonic() + 300
  while not (workdir / "checkpoints" / str(STEPS_PER_EPOCH)).exists():
    assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "no first checkpoint"
    time.sleep(0.05)
  procs[1].send_signal(signal.SIGTERM)
  results = local_processes.wait_for(procs, timeout=300)
  assert [status for status, _ in results] == [PREEMPTED_EXIT_STATUS] * 2, [e[-2000:] for _, e in results]
  stops = {int(stderr.split("training stopped after step ")[1].split(",")[0]) for _, stderr in results}
  assert len(stops) == 1, stops
  (stop,) = stops
  assert stop % STOP_POLL_STEPS == 0 or stop == STEPS_PER_EPOCH * EPOCHS
  assert (workdir / "checkpoints" / str(stop)).is_dir()
  assert "a signal to another process received" in results[0][1]  # process 0 got no signal itself
  (message,) = [line for line in results[1][1].splitlines() if line.startswith("dvae: SIGTERM received")]
  assert f"training stopped after step {stop}," in message and "rerun the same command to resume" in message

  for status, stderr in local_processes.wait_for(_launch(config_file, workdir), timeout=300):
    assert status == 0, stderr[-3000:]
  (step_a, a), (step_b, b) = load_host_state(uninterrupted / "checkpoints"), load_host_state(workdir / "checkpoints")
  assert step_a == step_b
  jax.tree.map(np.testing.assert_array_equal, a, b)
  assert reproducible_records(workdir) == reproducible_records(uninterrupted)
