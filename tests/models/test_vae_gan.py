"""models/vae_gan.py: the VAE with a learnable loss: each player's gradient is its own loss's, the solo epochs and
the w_pbp schedule, the discriminator's own Adam, the discriminators and the 64 x 64 VAE's heads, and training,
resuming and devices through the one training loop."""

import dataclasses
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax import train
from dvae_jax.configs import load_experiment
from dvae_jax.experiment import make_objective, module_rngs
from dvae_jax.metric_writer import reproducible_records
from dvae_jax.models import ARCHITECTURES, get_family
from dvae_jax.models.vae_gan import Discriminator
from dvae_jax.optimizers import make_optimizer
from tests.helpers import RNGS, assert_trees_equal, final_state, hparams, init_model

BATCH = 4
TINY_NET = dict(fc_sizes=(12, 8))
TINY_DISC = dict(hidden_sizes=(6,))


def _setup(**model):
  config = hparams("vae_gan", "mlp", net=TINY_NET, latent_dim=3, **model)
  config = dataclasses.replace(config, discriminator=dataclasses.replace(config.discriminator, **TINY_DISC))
  module, x, variables = init_model(config, BATCH, abstract=False)
  images = jax.random.uniform(jax.random.key(7), x.shape)
  batch = {"image": images, "label": jnp.zeros(BATCH, jnp.int32), "epoch": jnp.float32(3.0)}
  return config, module, variables, batch


def _grads(config, module, variables, batch):
  module = get_family("vae_gan").module(config)
  objective = make_objective(get_family("vae_gan"), module, config, batch_reduction="sum")
  model_state = {k: v for k, v in variables.items() if k != "params"}

  def loss(params):
    return objective(params, model_state, batch, KEY, train=True)

  (_, (metrics, _)), grads = jax.value_and_grad(loss, has_aux=True)(variables["params"])
  return grads, metrics


KEY = jax.random.key(8)


def test_discriminator_gradient_is_that_of_its_own_loss_only():
  config, module, variables, batch = _setup()
  grads, metrics = _grads(config, module, variables, batch)
  # Independently: the discriminator alone, on the real images and on the model's reconstruction
  # (the same draw as in the objective: the same key and streams).
  out = module.apply(variables, batch["image"], train=True, rngs=module_rngs(KEY))
  reconstruction = jax.nn.sigmoid(out["logits"][0])
  disc = Discriminator(config.discriminator)

  def disc_loss(disc_params):
    real = disc.apply({"params": disc_params}, batch["image"], train=True)
    fake = disc.apply({"params": disc_params}, reconstruction, train=True)
    return jnp.sum(-jax.nn.log_sigmoid(real) - jax.nn.log_sigmoid(-fake))

  disc_params = variables["params"]["discriminator"]
  expected = jax.grad(disc_loss)(disc_params)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), grads["discriminator"], expected)
  np.testing.assert_allclose(float(jnp.sum(metrics["disc_loss"])), float(disc_loss(disc_params)), rtol=1e-6)


def test_vae_gradient_sees_the_discriminator_frozen():
  config, module, variables, batch = _setup()
  with_disc, _ = _grads(config, module, variables, batch)
  # With w_disc = 0 the VAE's gradient is the plain VAE's (KL + PBP): the adversarial term is the
  # only way the discriminator enters it.
  without, _ = _grads(dataclasses.replace(config, disc_weight=0.0), module, variables, batch)
  plain = hparams("vae", "mlp", net=TINY_NET, latent_dim=3, label_head=False, weight_decay=0.0, sample_mode="elbo")
  plain_objective = make_objective(get_family("vae"), get_family("vae").module(plain), plain, batch_reduction="sum")
  vae_params = {name: value for name, value in variables["params"].items() if name != "discriminator"}
  plain_grads = jax.grad(lambda p: plain_objective(p, {}, batch, KEY, train=True)[0])(vae_params)
  for name in ("inference", "generator"):
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), without[name], plain_grads[name])
  # ... and the adversarial term moves it.
  diff = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), with_disc["generator"], without["generator"])
  assert max(jax.tree.leaves(diff)) > 1e-4


def test_solo_epochs_leave_the_discriminator_alone_and_pbp_weight_decays():
  config, module, variables, batch = _setup(solo_epochs=5, pbp_weight=1.2, pbp_decay=0.9, pbp_decay_epochs=2)
  grads, metrics = _grads(config, module, variables, batch)  # epoch 3 < 5: solo
  assert all(float(jnp.max(jnp.abs(g))) == 0.0 for g in jax.tree.leaves(grads["discriminator"]))
  np.testing.assert_allclose(metrics["pbp_weight"], 1.0)  # forced to 1 in solo epochs, as the original does
  for epoch, expected in ((4.9, 1.0), (5.0, 1.2), (6.9, 1.2), (7.0, 1.2 * 0.9), (11.5, 1.2 * 0.9**3)):
    np.testing.assert_allclose(config.pbp_weight_at(jnp.float32(epoch)), expected, rtol=1e-6)


def test_the_discriminator_has_its_own_adam():
  config, module, variables, batch = _setup()
  grads, _ = _grads(config, module, variables, batch)
  optim = load_experiment("mnist_vae_gan").optim
  optim.unlock()
  optim.learning_rate, optim.discriminator_learning_rate = 1e-3, 2e-4
  optimizer = make_optimizer(optim, 10, discriminator_params="discriminator").transform
  params = variables["params"]
  updates, _ = optimizer.update(grads, optimizer.init(params), params)
  # Adam's first step is -lr * g / (|g| + eps): lr in size wherever the gradient is not tiny.
  for name, lr in (("generator", 1e-3), ("discriminator", 2e-4)):
    u, g = jax.tree.leaves(updates[name]), jax.tree.leaves(grads[name])
    big = [np.abs(np.asarray(x))[np.abs(np.asarray(y)) > 1e-4] for x, y in zip(u, g, strict=True)]
    np.testing.assert_allclose(np.concatenate(big), lr, rtol=1e-3)


@pytest.mark.parametrize(
  "name",
  sorted(n for n, a in ARCHITECTURES.items() if a.decoder is None),  # the discriminators
)
def test_discriminators_give_one_logit_per_image(name):
  config = ARCHITECTURES[name].config(**ARCHITECTURES[name].config.SMOKE)
  disc = Discriminator(config)
  x = jnp.zeros((3, 64, 64, 3))
  variables = jax.eval_shape(lambda: disc.init(jax.random.key(0), x, train=False))
  assert jax.eval_shape(lambda v: disc.apply(v, x, train=False), variables).shape == (3,)


def test_face_vae_heads_are_unconstrained_and_64x64():
  config = hparams(
    "vae_gan",
    "dcgan_conv",
    data=dict(image_shape=(64, 64, 3), num_classes=1),
    latent_dim=512,
  )
  model, x, variables = init_model(config, 2)
  out = jax.eval_shape(lambda v: model.apply(v, x, train=False, rngs=RNGS), variables)
  assert out["logits"].shape == (1, 2, 64, 64, 3) and out["mean"].shape == (2, 512)
  # The heads are plain dense layers on the flattened features (no batch norm, no ReLU after them).
  assert set(variables["params"]["inference"]["mean"]) == {"kernel", "bias"}
  assert "bn_mean" not in variables.get("batch_stats", {}).get("inference", {})
  init = model.init(RNGS, jnp.zeros((2, 64, 64, 3)), train=False)
  mean, logvar = model.apply(init, -jnp.ones((2, 64, 64, 3)), method="encode")
  assert float(jnp.min(mean)) < 0 and float(jnp.min(logvar)) < 0  # negative values are reachable


# Two epochs of the tiny VAE + D, the first solo: the second is "combo", and a resume restarts inside it.
GAN_RUN = dict(
  family="vae_gan", network="mlp", train__num_epochs=2, train__checkpoint_every_steps=3, model__solo_epochs=1
)


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory, request):
  make = request.getfixturevalue("tiny_config")
  config = make(**GAN_RUN, train__max_checkpoints=20)
  workdir = tmp_path_factory.mktemp("gan")
  valid = train.train_and_evaluate(config, workdir)
  return config, workdir, valid


def test_combo_run_resumed_mid_epoch_equals_uninterrupted(gan_run, tmp_path):
  config, workdir, valid = gan_run
  # Killed after the step-12 checkpoint: mid second epoch (8 steps per epoch), in the combo phase.
  shutil.copytree(workdir, tmp_path, dirs_exist_ok=True)
  for checkpoint in (tmp_path / "checkpoints").iterdir():
    if checkpoint.name.isdigit() and int(checkpoint.name) > 12:
      shutil.rmtree(checkpoint)
  assert train.train_and_evaluate(config, tmp_path) == valid
  assert reproducible_records(tmp_path) == reproducible_records(workdir)
  assert_trees_equal(final_state(config, tmp_path), final_state(config, workdir))
  # The discriminator did train in the combo epoch (and not in the solo one).
  state = final_state(config, workdir)
  assert any(np.abs(np.asarray(leaf)).sum() > 0 for leaf in jax.tree.leaves(state.opt_state))
  assert valid["disc_loss"] > 0 and 0.0 <= valid["disc_accuracy"] <= 1.0


def test_gan_on_four_devices_runs_the_same_math(gan_run, tiny_config, tmp_path):
  config, workdir, valid = gan_run
  sharded = tiny_config(**GAN_RUN, num_devices=4)
  valid4 = train.train_and_evaluate(sharded, tmp_path)
  for name in ("kl_nats", "recon_nats", "disc_loss"):
    assert valid4[name] == pytest.approx(valid[name], rel=5e-2), name
