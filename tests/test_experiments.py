"""experiments/*.py, the experiment configs: each one, and each variant it declares, loads and validates; the smoke
variant of every one trains end to end (one parametrized test, at the tests' size); and what each experiment
promises of its own settings (its network, likelihood, schedule and variants), some of it through a training.

The families, networks and data sources the experiments use are tested in the modules of their code (tests/models/,
tests/data/, ...); the `dvae` command's own smoke training is in tests/test_cli.py.
"""

import json
import pathlib
import re

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dvae_jax import configs, evaluate, train
from dvae_jax.configs import ConfigError, load_experiment, validate
from dvae_jax.experiment import Experiment, build_experiment
from dvae_jax.inference import restore_run
from dvae_jax.metric_writer import read_metrics, reproducible_records
from tests.helpers import REPO, TRAIN_PER_FILE, point_at_folder, smoke_config

EXPERIMENTS = sorted(path.stem for path in (REPO / "experiments").glob("*.py"))
NEEDS_FILES = ("cifar10_",)  # CIFAR-10 is not on these machines (trained on generated files: conftest's cifar_data)


# ---------------------------------------------------------------- every experiment and its variants load and validate


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_configs_validate(name, shared_data, face_folder, tmp_path):
  for variant in (None, "smoke"):
    config = load_experiment(name, variant)
    if config.data.name == "image_folder":  # the face experiments: a generated folder stands in
      point_at_folder(config, face_folder, tmp_path)
    configs.validate(config)
    if variant and not name.startswith(NEEDS_FILES):
      config.data.dir = str(shared_data)
      config.num_devices = 1
      experiment = build_experiment(config)  # data, model and shapes fit together
      assert experiment.steps_per_epoch > 0


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_declared_variant_loads_and_validates(name, face_folder, tmp_path):
  """Each name of the experiment's VARIANTS table, alone and with smoke, and the generic variants."""
  from dvae_jax.configs.loader import import_file

  table = getattr(import_file(REPO / "experiments" / f"{name}.py", "test_experiment"), "VARIANTS", {})
  own = [n for setting, choices in table.items() for n in ([setting] if choices is False else choices) if n]
  for variant in (None, *configs.GENERIC_VARIANTS, *own, *(f"{n},smoke" for n in own)):
    config = load_experiment(name, variant)
    if config.data.name == "image_folder":
      point_at_folder(config, face_folder, tmp_path)
    configs.validate(config)


def test_experiments_share_builders_through_the_package_not_each_other():
  """No experiment file loads a sibling (importlib, runpy, exec of another path)."""
  for path in (REPO / "experiments").glob("*.py"):
    text = path.read_text()
    assert not re.search(r"importlib|runpy|exec\(|with_name\(", text), path


# ---------------------------------------------------------------- the smoke variant of every experiment trains

# The autoencoders' experiments: their network, input corruption and sparsity penalty.
AUTOENCODERS = {
  "mnist_conv_ae": ("handson_conv", None, "none"),
  "mnist_conv_dae": ("arunarn2_conv", "gaussian", "none"),
  "mnist_mlp_dae_gaussian": ("mlp", "gaussian", "none"),
  "mnist_mlp_dae_dropout": ("mlp", "dropout", "none"),
  "mnist_sparse_ae_l1": ("mlp", None, "l1"),
  "mnist_sparse_ae_kl": ("mlp", None, "kl"),
}
# Hands-On ML's autoencoders end in a linear layer trained with MSE; arunarn2/AutoEncoder's in a sigmoid with BCE.
HANDS_ON = {name for name in AUTOENCODERS if name != "mnist_conv_dae"}
# Losses and bounds, positive wherever a family reports them.
POSITIVE = ("objective_nats", "neg_elbo_nats", "recon_nats", "recon_mse", "psnr_db", "label_ce_nats")


def tiny_smoke_config(name: str, *, shared_data, cifar_data, face_folder, cache_dir: pathlib.Path):
  """The smoke variant of experiment `name` at the tests' size: one epoch in batches of 32 on one device, no
  grid; on the first 64 training and 32 evaluation images of real MNIST, or in whole on the small generated
  CIFAR-10 files (conftest's cifar_data: 108 training images) or face folder (conftest's face_folder, 32 x 32)."""
  config = smoke_config(name, "smoke", train__grid_images=0)
  if config.data.name == "image_folder":
    point_at_folder(config, face_folder, cache_dir)
    config.data.image_size = 32
  elif name.startswith(NEEDS_FILES):
    config.data.dir = str(cifar_data)
  else:
    config.data.dir = str(shared_data)
    config.data.train_limit, config.data.eval_limit = 64, 32
  return config


def _autoencoder_trained(name: str, experiment: Experiment, valid: dict, workdir: pathlib.Path) -> None:
  network, corruption, sparsity = AUTOENCODERS[name]
  config = experiment.config
  assert config.model.network.name == network and config.model.sparsity.name == sparsity
  assert config.model.gaussian_mean == ("identity" if name in HANDS_ON else "sigmoid")
  assert config.data.invert is False and config.data.binarize == "none" and config.optim.schedule == "constant"
  assert valid["recon_mse"] > 0 and valid["psnr_db"] > 0
  assert ("noisy_psnr_db" in valid) == (corruption is not None)
  if sparsity != "none":
    assert valid["sparsity_penalty"] > 0 and 0 < valid["code_mean_activation"] < 1  # a sigmoid code
  if name == "mnist_mlp_dae_dropout":  # `dvae evaluate` reports the same per-image metrics on the test split
    result = evaluate.evaluate_checkpoint(workdir, iw_samples=0)
    assert result["num_examples"] == 32 and "iw_nll_nats" not in result  # no latent variable model
    # A dropped pixel is off by -x, a kept (doubled) one by +x: whatever the draw, the input's squared
    # error is sum(x^2), 78.559 on average over the first 32 MNIST test images.
    assert result["noisy_mse"] == pytest.approx(78.559, rel=1e-4)
    # The linear output is given out as images, clipped to [0, 1]; the model's own mean is not clipped.
    run = restore_run(workdir)
    batch = run.split("test").take(np.arange(8))
    mean = run.experiment.reconstruct(run.state, batch, run.experiment.keys["sample"])[1]
    np.testing.assert_array_equal(run.reconstruct(batch["image"]), np.clip(mean, 0.0, 1.0))
    assert np.min(mean) < 0.0 or np.max(mean) > 1.0  # a linear output, not a sigmoid
    saved = json.loads((workdir / "eval_test.json").read_text())
    assert saved["psnr_db"] == result["psnr_db"] and saved["code_active_fraction"] == result["code_active_fraction"]


def _cifar10_trained(name: str, experiment: Experiment, valid: dict, workdir: pathlib.Path) -> None:
  """The CIFAR-10 configs on the generated files in the official binary layout: the images as the variant
  promises them, the first 10% of the training files held out to validate."""
  assert experiment.hparams.image_shape == (32, 32, 3)
  assert len(experiment.splits.train) == 5 * TRAIN_PER_FILE - 12  # 120 - 10%
  if name == "cifar10_mlp_vae":
    assert experiment.config.model.network.name == "mlp" and experiment.config.model.likelihood == "bernoulli"
  if name == "cifar10_dvae":  # the reference's DVAE, and its test NLL in bits per dimension
    assert valid["reference_loss"] > 32 * 32 * 3 * 0.5
    result = evaluate.evaluate_checkpoint(workdir)
    assert result["iw_bits_per_dim"] == pytest.approx(result["iw_nll_nats"] / (3072 * np.log(2)))


def _likelihood_estimated(name: str, experiment: Experiment, valid: dict, workdir: pathlib.Path) -> None:
  """Im et al.'s input-corruption denoising VAE and the 2-D MLP VAE: `dvae evaluate`'s importance-weighted NLL
  (a small k) on the 32 evaluation images."""
  result = evaluate.evaluate_checkpoint(workdir, iw_samples=10)
  assert result["iw_num_examples"] == 32 and 0 < result["iw_nll_nats"] < 2000
  assert np.isfinite(result["output_neg_elbo_nats"])


# What an experiment's own smoke training promises beyond finite, positive losses: (name, experiment, validation
# metrics, workdir) -> None.
CHECKS = {
  **dict.fromkeys(AUTOENCODERS, _autoencoder_trained),
  **dict.fromkeys(("cifar10_dvae", "cifar10_mlp_vae", "cifar10_conv_vae"), _cifar10_trained),
  **dict.fromkeys(("mnist_binarized_denoising_vae", "mnist_vae_2d"), _likelihood_estimated),
}


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_smoke_variant_trains(name, shared_data, cifar_data, face_folder, tmp_path):
  """Every experiment's smoke variant, end to end at the tests' size (`tiny_smoke_config`): its validation metrics
  (none for the face runs, which train on their whole training split) are finite, its losses positive, and what
  the experiment promises of its own run holds (CHECKS)."""
  config = tiny_smoke_config(
    name, shared_data=shared_data, cifar_data=cifar_data, face_folder=face_folder, cache_dir=tmp_path / "cache"
  )
  experiment = build_experiment(config)
  valid = train.run_training(experiment, tmp_path / "run")
  assert all(np.isfinite(value) for value in valid.values()), valid
  assert all(valid[metric] > 0 for metric in POSITIVE if metric in valid), valid
  if name in CHECKS:
    CHECKS[name](name, experiment, valid, tmp_path / "run")


# ---------------------------------------------------------------- the autoencoders' experiments


@pytest.mark.parametrize("name", sorted(AUTOENCODERS))
def test_hands_on_experiments_have_a_linear_output_under_mse(name):
  model = load_experiment(name).model
  if name in HANDS_ON:
    assert (model.likelihood, model.gaussian_mean, model.gaussian_log_std) == ("gaussian", "identity", 0.0)
  else:
    assert (model.likelihood, model.gaussian_mean) == ("bernoulli", "sigmoid")


def test_sparsity_weights_keep_the_original_balance_with_the_mse():
  """SSE / 2 per image is 392 x Keras's per-pixel MSE, so the penalties scale by 392 (the KL's also by
  tf.keras's 1 / batch size)."""
  l1, kl = load_experiment("mnist_sparse_ae_l1"), load_experiment("mnist_sparse_ae_kl")
  assert l1.model.sparsity.weight == pytest.approx(784 / 2 * 1e-4)
  assert kl.model.sparsity.weight == pytest.approx(784 / 2 * 5e-3 / kl.train.batch_size)
  assert kl.train.batch_size == 32 and kl.model.sparsity.target == 0.1


def test_conv_dae_learning_rates():
  """arunarn2/AutoEncoder's Adam 1e-5 by default, 1e-3 as `fast`; both combine with the generic variants."""
  assert load_experiment("mnist_conv_dae").optim.learning_rate == 1e-5
  assert load_experiment("mnist_conv_dae", "fast").optim.learning_rate == 1e-3
  assert load_experiment("mnist_conv_dae", "cpu").optim.learning_rate == 1e-5
  assert load_experiment("mnist_conv_dae", "fast,cpu").optim.learning_rate == 1e-3
  smoke = load_experiment("mnist_conv_dae", "smoke")
  assert smoke.optim.learning_rate == 1e-3 and smoke.data.train_limit == 512  # every smoke run trains at 1e-3
  assert load_experiment("mnist_conv_dae", "fast,smoke").to_dict() == smoke.to_dict()
  with pytest.raises(ConfigError, match=r"expected names from \['fast'\] and at most one of \['smoke', 'cpu'\]"):
    load_experiment("mnist_conv_dae", "slow")


# ---------------------------------------------------------------- the flax example's VAE


def test_flax_example_config_trains(shared_data, tmp_path):
  """experiments/mnist_vae_flax.py: the flax example's MLP VAE, constant Adam 1e-3, no batch norm."""
  config = load_experiment("mnist_vae_flax", "smoke")
  config.data.dir = str(shared_data)
  config.train.progress_bar = False
  config.num_devices = 1
  experiment = build_experiment(config)
  valid = train.run_training(experiment, tmp_path)
  params = experiment.init_state().params
  assert params["inference"]["trunk"]["dense_0"]["kernel"].shape == (784, 32)
  assert params["generator"]["dense_1"]["kernel"].shape == (32, 784)
  assert set(params["inference"]) == {"trunk", "mean", "logvar"}  # no label head
  assert experiment.init_state().model_state == {}  # no batch norm
  records = [r for r in read_metrics(tmp_path) if r["split"] == "train"]
  assert [r["learning_rate"] for r in records] == pytest.approx([1e-3] * len(records))
  assert valid["neg_elbo_nats"] == pytest.approx(valid["output_neg_elbo_nats"])
  assert 0 < valid["neg_elbo_nats"] < 784 * np.log(2)  # better than a coin per pixel after 2 epochs


# ---------------------------------------------------------------- the VAE wiki page's CIFAR-10, CelebA experiments

NUM_FACES = 60  # 12 test images (20%), 48 training, of which 5 validate


@pytest.fixture(scope="module")
def celeba_folder(tmp_path_factory) -> pathlib.Path:
  """A stand-in for img_align_celeba/: portrait-shaped RGB PNGs (CelebA's are 178 x 218), each a
  face-coloured ellipse with two eyes on a random background, so the centre crop and resize run."""
  rng = np.random.default_rng(1)
  folder = tmp_path_factory.mktemp("img_align_celeba")
  for i in range(NUM_FACES):
    image = Image.new("RGB", (30, 36), tuple(int(c) for c in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(image)
    draw.ellipse((6, 6, 24, 30), fill=tuple(int(c) for c in rng.integers(150, 256, 3)))
    draw.rectangle((10, 14, 12, 16), fill=(0, 0, 0))
    draw.rectangle((18, 14, 20, 16), fill=(0, 0, 0))
    image.save(folder / f"{i + 1:06d}.png")
  return folder


def _train_pulse(config, workdir: pathlib.Path) -> tuple[Experiment, dict[str, float]]:
  experiment = build_experiment(config)
  valid = train.run_training(experiment, workdir)
  assert np.isfinite(list(valid.values())).all(), valid
  assert valid["neg_elbo_nats"] > 0
  return experiment, valid


# In colour (the default variant) the smoke training is test_smoke_variant_trains[cifar10_mlp_vae].
@pytest.mark.parametrize(("variant", "channels"), [("grayscale", 1)])
def test_mlp_vae_trains_in_colour_and_in_grayscale(variant, channels, cifar_data, tmp_path):
  config = smoke_config("cifar10_mlp_vae", f"{variant},smoke", data__dir=str(cifar_data))
  assert config.model.network.name == "mlp" and config.model.likelihood == "bernoulli"
  experiment, _ = _train_pulse(config, tmp_path)
  assert experiment.hparams.image_shape == (32, 32, channels)
  assert len(experiment.splits.train) == 5 * TRAIN_PER_FILE - 12


def test_conv_vae_trains_on_a_face_folder_at_64x64(celeba_folder, tmp_path):
  config = smoke_config("cifar10_conv_vae", "celeba,smoke", train__batch_size=16)
  point_at_folder(config, celeba_folder, tmp_path / "cache")
  experiment, _ = _train_pulse(config, tmp_path / "run")
  assert experiment.hparams.image_shape == (64, 64, 3)
  assert len(experiment.splits.test) == NUM_FACES // 5


@pytest.mark.parametrize(("variant", "side"), [("cifar10", 32), ("celeba", 64)])
def test_conv_vae_is_pooling_free_down_to_an_8x8_grid(variant, side):
  network = load_experiment("cifar10_conv_vae", variant).model.network
  assert network.name == "dcgan_conv" and not network.batch_norm  # strided convs only, no pooling
  assert side // 2**network.stages == 8


# ---------------------------------------------------------------- the learnable-loss experiments (MNIST and faces)


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


# ---------------------------------------------------------------- the binarized-MNIST comparison, the MLP VAEs


def test_mnist_mlp_vae_variants():
  assert load_experiment("mnist_mlp_vae").model.latent_dim == 100
  config = load_experiment("mnist_mlp_vae", "z10,smoke")
  assert config.model.latent_dim == 10 and config.model.network.fc_sizes == (32,) and config.data.train_limit == 512
  assert load_experiment("mnist_mlp_vae", "z2").model.network.fc_sizes == (500, 500)
  for bad in ("z3", "z2,z10", "smoke,tiny"):
    with pytest.raises(configs.ConfigError):
      load_experiment("mnist_mlp_vae", bad)


def test_comparison_configs_differ_only_in_the_family():
  denoising = load_experiment("mnist_binarized_denoising_vae").to_dict()
  vae = load_experiment("mnist_binarized_mlp_vae").to_dict()
  assert {k: v for k, v in denoising.items() if k != "model"} == {k: v for k, v in vae.items() if k != "model"}
  assert denoising["model"]["network"] == vae["model"]["network"]
  shared = set(denoising["model"]) & set(vae["model"]) - {"family"}
  assert {k: denoising["model"][k] for k in shared} == {k: vae["model"][k] for k in shared}
  assert denoising["model"]["corruption"] == {"name": "gaussian", "std": 0.025, "clip": False}
  assert vae["model"]["sample_mode"] == "elbo" and not vae["model"]["label_head"]
