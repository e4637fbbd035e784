"""two_player.py: the steps of a family with a second player (the VAE + D). A solo epoch's VAE-only step
gives the VAE exactly the update of the full step, and leaves the discriminator (its parameters, Adam
state and batch-norm statistics) as it was; the training loop takes it in solo epochs only."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax import configs, train, two_player
from dvae_jax.experiment import TrainState, make_objective
from dvae_jax.models import ARCHITECTURES, get_family
from dvae_jax.optimizers import make_optimizer
from tests.helpers import assert_trees_equal, final_state, hparams, init_model

BATCH = 8


def _steps(order: str):
  """Three steps of the full and of the solo step from one state, in a solo epoch: (initial, full, solo)."""
  config = hparams("vae_gan", "mlp", net=dict(fc_sizes=(12, 8)), latent_dim=3, solo_epochs=2, update_order=order)
  discriminator = ARCHITECTURES["conv_bn_discriminator"].config(base_channels=4, stages=2)  # with batch norm
  config = dataclasses.replace(config, discriminator=discriminator)
  module, _, variables = init_model(config, BATCH, abstract=False)
  family = get_family("vae_gan")
  objective = make_objective(family, module, config, batch_reduction="mean")
  optimizer = make_optimizer(configs.base_config("vae_gan", "mlp").optim, 10, discriminator_params="discriminator")
  params = variables["params"]
  model_state = {k: v for k, v in variables.items() if k != "params"}
  initial = TrainState(jnp.int32(0), params, model_state, optimizer.transform.init(params))
  runs = {}
  for name, step in (("full", two_player.train_step), ("solo", two_player.solo_step)):
    jitted = jax.jit(functools.partial(step, objective, optimizer, config))
    state = initial
    for i in range(3):
      images = jax.random.uniform(jax.random.key(i), (BATCH, 28, 28, 1))
      inputs = {"image": images, "label": jnp.zeros(BATCH, jnp.int32), "epoch": jnp.float32(0.1 * i)}
      key = jax.random.key(100 + i)
      params, model_state, opt_state, *_ = jitted(state, inputs, key, epoch_index=jnp.int32(0))
      state = TrainState(state.step + 1, params, model_state, opt_state)
    runs[name] = state
  return initial, runs["full"], runs["solo"]


@pytest.mark.parametrize("order", ["alternating", "simultaneous"])
def test_a_solo_step_gives_the_vae_the_full_steps_update_and_leaves_the_discriminator_alone(order):
  initial, full, solo = _steps(order)
  vae = ("inference", "generator")
  assert_trees_equal({n: solo.params[n] for n in vae}, {n: full.params[n] for n in vae})  # bit for bit
  assert_trees_equal(solo.opt_state.inner_states["model"], full.opt_state.inner_states["model"])
  # The discriminator, its Adam state (step count included) and its batch-norm statistics: untouched.
  assert_trees_equal(solo.params["discriminator"], initial.params["discriminator"])
  assert_trees_equal(solo.opt_state.inner_states["discriminator"], initial.opt_state.inner_states["discriminator"])
  assert_trees_equal(solo.model_state, initial.model_state)
  # The full step ran the discriminator three times per objective: its running statistics moved.
  moved = jax.tree.map(
    lambda a, b: bool(np.any(np.asarray(a) != np.asarray(b))),
    full.model_state["batch_stats"]["discriminator"],
    initial.model_state["batch_stats"]["discriminator"],
  )
  assert all(jax.tree.leaves(moved))


def test_training_takes_the_solo_step_in_solo_epochs_only(tiny_config, tmp_path):
  """One solo epoch then one combo epoch through the training loop: after the solo epoch the discriminator
  is as initialised (parameters, Adam state), and the combo epoch trains it."""
  config = tiny_config(family="vae_gan", network="mlp", train__num_epochs=1, model__solo_epochs=1)
  train.train_and_evaluate(config, tmp_path / "solo")
  after_solo = final_state(config, tmp_path / "solo")
  from dvae_jax.experiment import build_experiment

  experiment = build_experiment(config)
  initial = jax.device_get(experiment.init_state())
  assert experiment.train_step_for(0) is experiment.solo_train_step
  assert experiment.train_step_for(1) is experiment.train_step
  disc = "discriminator"
  assert_trees_equal(after_solo.params[disc], initial.params[disc])
  assert_trees_equal(after_solo.opt_state.inner_states[disc], initial.opt_state.inner_states[disc])
  trained, before = jax.tree.leaves(after_solo.params["generator"]), jax.tree.leaves(initial.params["generator"])
  assert any(bool(np.any(np.asarray(a) != np.asarray(b))) for a, b in zip(trained, before, strict=True))
