"""checked_step.py: the train and eval steps refuse a batch (or rows) shaped for the other step, before the call."""

import jax
import numpy as np
import pytest

from dvae_jax.data import Batch


def test_a_step_refuses_a_batch_shaped_for_the_other_step(experiment):
  state = experiment.init_state()
  with pytest.raises(
    ValueError, match=r"train_step takes a batch of k steps .* labels have shape \(16,\), built from a 1-D"
  ):
    experiment.train_step(state, experiment.device_batch("train", np.arange(16)))
  # Refused before the call: the state was not donated, and trains on.
  state, _ = experiment.train_step(state, experiment.device_batch("train", np.arange(16)[None]))
  assert int(state.step) == 1
  with pytest.raises(ValueError, match=r"eval_step takes one batch of B images.* shape \(1, 32\), built from a 2-D"):
    experiment.eval_step(state, experiment.device_batch("valid", np.arange(32)[None]), jax.random.key(0))
  with pytest.raises(
    ValueError, match=r"device_batch takes an index \[B\] .* or \[k, B\] .* given an index of shape \(\)"
  ):
    experiment.device_batch("train", np.int64(3))


def test_the_steps_refuse_rows_shaped_for_the_other_step(experiment):
  state = experiment.init_state()
  with pytest.raises(ValueError, match=r"train_step takes .* rows whose index has shape \(16,\), built from a 1-D"):
    experiment.train_step(state, Batch(experiment.splits.train, np.arange(16)))
  sums, count = experiment.eval_step(state, Batch(experiment.splits.valid, np.arange(32)), jax.random.key(0))
  expected, _ = experiment.eval_step(state, experiment.device_batch("valid", np.arange(32)), jax.random.key(0))
  assert float(count) == 32 and float(sums["neg_elbo_nats"]) == float(expected["neg_elbo_nats"])
