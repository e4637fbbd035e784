"""Recomputing batch norm's running statistics with the final parameters (precise batch norm for
short runs): a known answer on the first batch-norm layer, and what `dvae evaluate` does with it."""

import jax
import numpy as np

from dvae_jax.batch_norm import RECOMPUTE_MOMENTUM, recompute_batch_norm_statistics
from dvae_jax.data import eval_batches
from dvae_jax.experiment import build_experiment


def test_running_averages_continue_over_training_batches_with_frozen_parameters(tiny_config):
  config = tiny_config(
    family="classifier",
    network="mlp",
    model__network__batch_norm=True,
    model__network__fc_sizes=(16,),
    train__batch_size=32,
  )
  experiment = build_experiment(config)
  state = experiment.init_state()
  stale = jax.tree.map(lambda x: x + 100.0, state.model_state)  # running averages far from the truth
  state = state.replace(model_state=stale)
  new = recompute_batch_norm_statistics(experiment, state, num_batches=3)
  # Known answer for the first layer: the running mean continued at momentum 0.9 over the batch
  # means of x @ W + b, with the parameters of `state`.
  params = state.params["trunk"]["dense_0"]
  expected = np.asarray(stale["batch_stats"]["trunk"]["bn_dense_0"]["mean"], np.float64)
  batches = list(eval_batches(experiment.splits.train, 32))[:3]
  for batch in batches:
    x = np.asarray(experiment.prepare(batch)["image"], np.float64).reshape(32, -1)
    h = x @ np.asarray(params["kernel"], np.float64) + np.asarray(params["bias"], np.float64)
    expected = RECOMPUTE_MOMENTUM * expected + (1 - RECOMPUTE_MOMENTUM) * h.mean(axis=0)
  got = np.asarray(new.model_state["batch_stats"]["trunk"]["bn_dense_0"]["mean"])
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
  jax.tree.map(np.testing.assert_array_equal, new.params, state.params)  # parameters untouched


def test_a_model_without_batch_norm_is_returned_as_is(tiny_config):
  experiment = build_experiment(tiny_config(family="vae", network="mlp", model__label_head=False))
  state = experiment.init_state()
  assert recompute_batch_norm_statistics(experiment, state, 5) is state
