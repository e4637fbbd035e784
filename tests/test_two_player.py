"""two_player.py: the steps of a family with a second player (the VAE + D). A solo epoch's VAE-only step
gives the VAE exactly the update of the full step, and leaves the discriminator (its parameters, Adam
state and batch-norm statistics) as it was; the training loop takes it in solo epochs only. The update
orders (alternating = two sequential single-player Adam steps) and the max_disc_loss gate, on the MNIST
experiment's smoke config (real MNIST, dense networks without batch norm)."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dvae_jax import configs, train, two_player
from dvae_jax.configs import load_experiment
from dvae_jax.experiment import TrainState, build_experiment, make_objective, module_rngs
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


@pytest.fixture(scope="module")
def mnist_gan():
  def build(**model):
    config = load_experiment("mnist_vae_gan", "smoke")
    config.num_devices = 1
    for name, value in model.items():
      config.model[name] = value
    experiment = build_experiment(config)
    return experiment, experiment.init_state()

  return build


def _one_batch(experiment, step: int = 0):
  size, position = experiment.config.train.batch_size, step % experiment.steps_per_epoch
  return experiment.device_batch("train", np.arange(position * size, (position + 1) * size)[None])


def test_alternating_step_equals_two_sequential_single_player_adam_steps(mnist_gan):
  experiment, state = mnist_gan(update_order="alternating", disc_weight=3.0)
  batch = _one_batch(experiment)
  stepped, _ = experiment.train_step(jax.tree.map(jnp.copy, state), batch)

  # Independently: one optax.adam per player, on its own subtree, stepped one after the other.
  config, model = experiment.hparams, experiment.model
  inputs = experiment.prepare(jax.tree.map(lambda x: x[0], batch), state.step)
  step_key = jax.random.fold_in(experiment.keys["train"], 0)
  lr = experiment.config.optim.learning_rate

  def outputs(params, key):
    return model.apply({"params": params}, inputs["image"], train=True, rngs=module_rngs(key))

  def disc_loss(disc, params):
    out = outputs({**params, "discriminator": disc}, jax.random.fold_in(step_key, 0))
    return jnp.mean(-jax.nn.log_sigmoid(out["real_logits"]) - jax.nn.log_sigmoid(-out["fake_logits"]))

  def vae_loss(vae, params):
    out = outputs({**params, **vae}, jax.random.fold_in(step_key, 1))
    terms, _ = get_family("vae_gan").terms(out, {**inputs, "epoch": jnp.float32(0.0)}, config)
    adversarial = -jax.nn.log_sigmoid(out["adversarial_logits"])
    return jnp.mean(terms["kl_nats"] + terms["recon_nats"] + config.disc_weight * adversarial)

  params = state.params
  disc_adam = optax.adam(lr)
  disc_updates, _ = disc_adam.update(
    jax.grad(disc_loss)(params["discriminator"], params), disc_adam.init(params["discriminator"])
  )
  params = {**params, "discriminator": optax.apply_updates(params["discriminator"], disc_updates)}
  vae = {name: params[name] for name in ("inference", "generator")}
  vae_adam = optax.adam(lr)
  vae_updates, _ = vae_adam.update(jax.grad(vae_loss)(vae, params), vae_adam.init(vae))
  expected = {**params, **optax.apply_updates(vae, vae_updates)}
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), stepped.params, expected)
  # The order matters: the VAE's step saw the updated discriminator (the simultaneous step differs).
  simultaneous, _ = mnist_gan(update_order="simultaneous", disc_weight=3.0)
  together, _ = simultaneous.train_step(jax.tree.map(jnp.copy, state), batch)
  differs = jax.tree.map(lambda a, b: not np.allclose(a, b), together.params["generator"], expected["generator"])
  assert any(jax.tree.leaves(differs))


def test_simultaneous_step_is_one_gradient_of_the_summed_objective(mnist_gan):
  experiment, state = mnist_gan(update_order="simultaneous")
  batch = _one_batch(experiment)
  stepped, _ = experiment.train_step(jax.tree.map(jnp.copy, state), batch)
  inputs = {**experiment.prepare(jax.tree.map(lambda x: x[0], batch), state.step), "epoch": jnp.float32(0.0)}
  objective = make_objective(experiment.family, experiment.model, experiment.hparams, batch_reduction="mean")
  key = jax.random.fold_in(experiment.keys["train"], 0)
  grads = jax.grad(lambda p: objective(p, {}, inputs, key, train=True)[0])(state.params)
  transform = experiment.optimizer.transform
  updates, _ = transform.update(grads, transform.init(state.params), state.params)
  expected = optax.apply_updates(state.params, updates)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), stepped.params, expected)


def test_gate_opens_and_closes_on_the_last_epochs_mean_disc_loss():
  gate = two_player.init_gate()
  for loss in (0.5, 1.5):  # epoch 0: mean 1.0
    gate = two_player.record_gate(two_player.roll_gate(gate, jnp.int32(0), 0.9), jnp.float32(loss), jnp.bool_(True))
  assert float(gate["open"]) == 1.0 and float(gate["steps"]) == 2.0
  gate = two_player.roll_gate(gate, jnp.int32(1), 0.9)  # 1.0 > 0.9: closed for epoch 1
  assert float(gate["open"]) == 0.0 and float(gate["steps"]) == 0.0
  gate = two_player.record_gate(gate, jnp.float32(0.2), jnp.bool_(True))
  assert float(two_player.roll_gate(gate, jnp.int32(1), 0.9)["open"]) == 0.0  # still epoch 1
  assert float(two_player.roll_gate(gate, jnp.int32(2), 0.9)["open"]) == 1.0  # 0.2 <= 0.9: open again
  # Solo steps are not counted, and an epoch without combo steps leaves the gate as it was.
  solo = two_player.record_gate(two_player.init_gate(), jnp.float32(9.0), jnp.bool_(False))
  assert float(solo["steps"]) == 0.0 and float(two_player.roll_gate(solo, jnp.int32(1), 0.9)["open"]) == 1.0


@pytest.mark.parametrize("limit, dropped", [(1e-6, True), (1e6, False)])
def test_max_disc_loss_drops_the_adversarial_term_for_the_next_epoch(mnist_gan, limit, dropped):
  experiment, state = mnist_gan(max_disc_loss=limit)
  assert two_player.GATE in state.model_state
  steps = experiment.steps_per_epoch
  for step in range(steps + 1):  # the whole first epoch, then the first step of the second
    state, metrics = experiment.train_step(state, _one_batch(experiment, step))
    adversarial = float(metrics["vae_loss"][0] - metrics["kl_nats"][0] - metrics["recon_nats"][0])
    if step < steps:
      assert adversarial > 1e-3  # every first epoch uses the adversarial term
  assert (abs(adversarial) < 1e-3) == dropped
  assert float(state.model_state[two_player.GATE]["open"]) == (0.0 if dropped else 1.0)
