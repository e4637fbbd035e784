"""The VAE with a learnable loss: each player's gradient is its own loss's, the two optimizers and
their update order (alternating = two sequential single-player Adam steps), the solo / combo and
w_pbp schedules, the max_disc_loss gate, the discriminators and the 64 x 64 networks, and training,
resuming and devices through the one training loop."""

import dataclasses
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dvae_jax import evaluate, figures, train, two_player
from dvae_jax.configs import ConfigError, load_experiment, validate
from dvae_jax.data.image_folder import ImageFolderOptions, load_image_folder_split
from dvae_jax.experiment import build_experiment, make_objective, module_rngs
from dvae_jax.inference import restore_run
from dvae_jax.metric_writer import reproducible_records
from dvae_jax.models import ARCHITECTURES, get_family, model_config
from dvae_jax.models.vae_gan import Discriminator
from dvae_jax.optimizers import make_optimizer
from tests.helpers import RNGS, assert_trees_equal, dvae, final_state, hparams, init_model, point_at_folder

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


def test_a_vae_refuses_a_network_without_decoder():
  with pytest.raises(ConfigError, match="config.model.network=.* the 'conv_discriminator' network has no decoder"):
    model_config({"family": "vae", "network": {"name": "conv_discriminator"}}, image_shape=(28, 28, 1), num_classes=10)


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


@pytest.mark.parametrize("train_mode", [True, False])
def test_the_originals_posterior_head_gives_mean_at_least_0_and_sigma_at_least_1(train_mode):
  """model.posterior_head="dense_bn_relu": the original conv VAE's Dense -> BatchNorm -> ReLU, on random inputs,
  with batch statistics (training) and with running averages (evaluation)."""
  config = hparams(
    "vae_gan",
    "face_dcgan",
    net=dict(ARCHITECTURES["face_dcgan"].config.SMOKE),
    data=dict(image_shape=(32, 32, 3), num_classes=1),
    latent_dim=16,
    posterior_head="dense_bn_relu",
  )
  model, _, variables = init_model(config, 8, abstract=False)
  images = jax.random.uniform(jax.random.key(3), (8, 32, 32, 3), minval=-1.0, maxval=2.0)
  if train_mode:
    out, _ = model.apply(variables, images, train=True, rngs=RNGS, mutable=["batch_stats"])
    mean, logvar = out["mean"], out["logvar"]
  else:
    mean, logvar = model.apply(variables, images, method="encode")
  sigma = jnp.exp(0.5 * logvar)
  assert float(jnp.min(mean)) >= 0.0 and float(jnp.min(sigma)) >= 1.0
  assert bool(jnp.any(mean == 0.0)) and bool(jnp.any(sigma == 1.0))  # the ReLU clips: the bounds are reached
  assert set(variables["params"]["inference"]["bn_mean"]) == {"scale", "bias"}
  assert set(variables["batch_stats"]["inference"]["bn_logvar"]) == {"mean", "var"}


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory, request):
  make = request.getfixturevalue("tiny_config")
  config = make(
    family="vae_gan",
    network="mlp",
    train__num_epochs=2,
    train__checkpoint_every_steps=3,
    train__max_checkpoints=20,
    model__solo_epochs=1,  # the second epoch is "combo": the resume below restarts inside it
  )
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
  sharded = tiny_config(
    family="vae_gan",
    network="mlp",
    train__num_epochs=2,
    train__checkpoint_every_steps=3,
    model__solo_epochs=1,
    num_devices=4,
  )
  valid4 = train.train_and_evaluate(sharded, tmp_path)
  for name in ("kl_nats", "recon_nats", "disc_loss"):
    assert valid4[name] == pytest.approx(valid[name], rel=5e-2), name


@pytest.mark.parametrize("variant", ["smoke", "l2,smoke", "fashion,smoke"])
def test_learnable_loss_mnist_experiments_validate(variant):
  from dvae_jax import configs

  for name in ("mnist_vae_gan", "mnist_dense_vae"):
    configs.validate(load_experiment(name, variant))


def test_unknown_variant_lists_the_valid_ones():
  with pytest.raises(ConfigError, match=r"expected names from \['bce', 'l2', 'fashion'\]"):
    load_experiment("mnist_vae_gan", "l1")


@pytest.mark.parametrize("variant", ["resnet,smoke", "deep,smoke,as_original"])
def test_face_experiment_trains_on_an_image_folder(variant, face_folder, tmp_path):
  """The 64 x 64 face runs end to end on a generated folder of real images (MNIST digits as RGB PNGs): on the
  whole 80% training split, as the original (no validation split), so each epoch records its time and
  checkpoints, and the test split is evaluated."""
  config = point_at_folder(load_experiment("faces_vae_gan", variant), face_folder, tmp_path / "cache")
  config.data.image_size = 32
  config.train.num_epochs = 1
  config.train.progress_bar = False
  config.num_devices = 1
  assert train.train_and_evaluate(config, tmp_path / "run") == {}  # no validation metrics without a split
  experiment = build_experiment(config)
  assert (len(experiment.splits.train), len(experiment.splits.valid)) == (77, 0)  # 80% of 96 images, all trained on
  records = [r for r in reproducible_records(tmp_path / "run") if r["split"] == "epoch"]
  assert [(r["step"], r["epoch"]) for r in records] == [(2, 1.0)]  # 77 // 32 steps
  assert (tmp_path / "run" / "checkpoints" / "2").is_dir()
  # Evaluation rebuilds the config from the workdir: the saved discriminator replaces the default's.
  result = evaluate.evaluate_checkpoint(tmp_path / "run", iw_samples=0)
  assert result["recon_ssim"] > 0 and np.isfinite(result["recon_psnr_db"]) and result["disc_loss"] > 0


def test_face_vae_as_original_trains_through_dvae_train_and_displays_true_images(face_folder, tmp_path, shared_data):
  """`dvae train` with the original's layout and head; the figures undo the layout as the original's displays did."""
  workdir = tmp_path / "run"
  flags = [f"--config.data.path={face_folder}", f"--config.data.cache_dir={tmp_path / 'cache'}"]
  flags += ["--config.data.image_size=32", "--config.train.num_epochs=1", "--config.train.progress_bar=False"]
  config = ["--config", "faces_vae:smoke,as_original", "--workdir", str(workdir)]
  result = dvae("train", *config, *flags, data_dir=shared_data)
  assert result.returncode == 0, result.stderr
  assert "no validation split" in result.stdout + result.stderr
  run = restore_run(workdir)
  assert (run.experiment.config.data.layout, run.experiment.hparams.posterior_head) == ("reshaped_chw", "dense_bn_relu")
  options = ImageFolderOptions(image_size=32)
  true = load_image_folder_split(face_folder, "test", cache_dir=tmp_path / "cache", options=options).images[:4]
  fed = run.split("test").take(np.arange(4))["image"]  # as stored: the original's scrambled layout
  assert not np.array_equal(fed, true)
  inputs, recon = figures.reconstructions(run.experiment, run.state, run.split("test"), 4)
  np.testing.assert_allclose(inputs, true / 255.0, atol=1e-6)  # displayed: the true images
  assert recon.shape == inputs.shape
  mean, logvar = run.encode(fed)
  assert float(np.min(mean)) >= 0.0 and float(np.min(np.exp(0.5 * logvar))) >= 1.0


def test_as_original_variants_turn_on_the_originals_layout_and_head():
  expected = {
    "as_original": ("reshaped_chw", "dense_bn_relu"),
    "original_layout": ("reshaped_chw", "dense"),
    "original_head": ("hwc", "dense_bn_relu"),
    "conv1024,as_original,smoke": ("reshaped_chw", "dense_bn_relu"),
    "deep,light,as_original": ("reshaped_chw", "dense_bn_relu"),
    "dense,as_original": ("reshaped_chw", "dense"),  # the original's dense VAE has plain heads
  }
  for experiment in ("faces_vae", "faces_vae_gan"):
    for variant, (layout, head) in expected.items():
      config = load_experiment(experiment, variant)
      config.data.path = "/path/to/faces"
      validate(config)
      assert (config.data.layout, config.model.posterior_head) == (layout, head), (experiment, variant)
      # The run is otherwise the same as without the original's flaws.
      plain = load_experiment(experiment, ",".join(name for name in variant.split(",") if "original" not in name))
      plain.data.path, plain.data.layout, plain.model.posterior_head = config.data.path, layout, head
      assert plain.to_dict() == config.to_dict()
  with pytest.raises(ConfigError, match="has plain posterior heads"):
    load_experiment("faces_vae_gan", "dense,original_head")
  with pytest.raises(ConfigError, match="'original_layout' and 'as_original' both choose 'original'"):
    load_experiment("faces_vae", "original_layout,as_original")
  mnist = load_experiment("mnist_vae_gan")
  mnist.data.layout = "reshaped_chw"
  with pytest.raises(ConfigError, match="config.data.layout='reshaped_chw' with config.data.name='mnist'"):
    validate(mnist)


def test_face_variants_set_the_original_runs():
  """As the original's run records have them: w_disc 10 and w_pbp constant everywhere; the networks it built."""
  runs = {
    # variant: (VAE network, discriminator, its base channels, latents, solo epochs, learning rate)
    "conv": ("face_dcgan", "conv_bn_discriminator", 32, 512, 0, 1e-3),
    "conv1024": ("face_dcgan", "conv_bn_discriminator", 64, 1024, 100, 2e-4),
    "resnet": ("face_dcgan", "resnet18_discriminator", 64, 512, 0, 1e-3),
    "resnet_solo": ("face_dcgan", "resnet18_discriminator", 64, 1024, 100, 1e-3),
    "resnet_2e-4": ("face_dcgan", "resnet18_discriminator", 64, 1024, 100, 2e-4),
    "deep": ("face_dcgan", "deep_conv_bn_discriminator", 64, 1024, 100, 2e-4),
  }
  for variant, (network, disc, base, latents, solo, lr) in runs.items():
    config = load_experiment("faces_vae_gan", variant)
    model = config.model
    assert (model.network.name, model.discriminator.name, model.discriminator.base_channels) == (network, disc, base)
    assert (model.latent_dim, model.solo_epochs, model.pbp_decay, model.disc_weight) == (latents, solo, 1.0, 10.0)
    assert config.optim.learning_rate == config.optim.discriminator_learning_rate == lr
    assert model.update_order == "alternating" and model.network.kernel_init == "xavier_uniform"
    # The original's 80% training split, all trained on; the true images and plain heads unless asked otherwise.
    assert (config.data.test_fraction, config.data.validation_fraction) == (0.2, 0.0)
    assert (config.data.layout, model.posterior_head) == ("hwc", "dense")
  assert load_experiment("faces_vae_gan", "deep").model.network.decoder_channels == (512, 256, 128, 64)
  dense = load_experiment("faces_vae_gan", "dense").model
  assert dense.network.fc_sizes == (1024,) * 5 and dense.discriminator.hidden_sizes == (1024,)
  light = load_experiment("faces_vae_gan", "deep,light").model
  assert (light.network.name, light.network.extra_convs, light.discriminator.name) == (
    "dcgan_conv",
    1,
    "deep_conv_discriminator",
  )
  assert load_experiment("faces_vae", "deep").model.family == "vae"
  mnist = load_experiment("mnist_vae_gan")
  assert (mnist.model.disc_weight, mnist.model.update_order, mnist.data.validation_fraction) == (
    1.0,
    "alternating",
    0.0,
  )


# The update order, the gate: on the MNIST experiment's smoke config (real MNIST, dense networks without batch norm).


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
