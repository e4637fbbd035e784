"""workdir.py: a state stepped by hand saved as a checkpoint of the run."""

import jax
import numpy as np

import dvae_jax


def test_a_state_stepped_by_hand_is_saved_as_a_checkpoint_of_the_run(experiment, tmp_path):
  state = experiment.init_state()
  for rows in np.arange(32).reshape(2, 1, 16):
    state, _ = experiment.train_step(state, experiment.device_batch("train", rows))
  assert dvae_jax.save_checkpoint(experiment, state, tmp_path) == 2
  run = dvae_jax.restore_run(tmp_path)  # config.json and the checkpoint, digests checked
  assert run.step == 2
  for saved, restored in zip(jax.tree.leaves(state), jax.tree.leaves(run.state), strict=True):
    np.testing.assert_array_equal(np.asarray(saved), np.asarray(restored))
