"""workdir.py: preparing a workdir (checked before any work), where a reader of a run writes, and a state stepped
by hand saved as a checkpoint of the run."""

import jax
import numpy as np
import pytest

import dvae_jax
from dvae_jax import workdir
from dvae_jax.errors import WorkdirError


def test_prepare_workdir_creates_a_new_path_and_refuses_a_file(tmp_path):
  new = tmp_path / "runs" / "new"
  workdir.prepare_workdir(new)
  assert new.is_dir() and not any(new.iterdir())  # checked writable with a temporary file, gone again
  workdir.prepare_workdir(new)  # an existing run's workdir (to resume it) is fine too
  path = tmp_path / "notes"
  path.write_text("mine")
  with pytest.raises(WorkdirError, match=r"notes is a file; expected a directory .*The file was not changed"):
    workdir.prepare_workdir(path)
  assert path.read_text() == "mine"


def test_a_reader_writes_inside_the_run_or_where_it_is_told(tmp_path):
  run = tmp_path / "run"
  run.mkdir()
  default = run / "figures"
  assert workdir.output_dir(run, None, default=default, what="figures") == default and default.is_dir()
  out = tmp_path / "out" / "figures"
  assert workdir.output_dir(run, str(out), default=default, what="figures") == out and out.is_dir()
  (tmp_path / "notes").write_text("mine")
  with pytest.raises(WorkdirError, match=r"output directory .*notes/figures cannot be created .*, for figures\."):
    workdir.output_dir(run, tmp_path / "notes" / "figures", default=default, what="figures")


def test_a_state_stepped_by_hand_is_saved_as_a_checkpoint_of_the_run(experiment, tmp_path):
  state = experiment.init_state()
  for rows in np.arange(32).reshape(2, 1, 16):
    state, _ = experiment.train_step(state, experiment.device_batch("train", rows))
  assert dvae_jax.save_checkpoint(experiment, state, tmp_path) == 2
  run = dvae_jax.restore_run(tmp_path)  # config.json and the checkpoint, digests checked
  assert run.step == 2
  for saved, restored in zip(jax.tree.leaves(state), jax.tree.leaves(run.state), strict=True):
    np.testing.assert_array_equal(np.asarray(saved), np.asarray(restored))
