"""experiments/*.py, the experiment configs: each one, and each variant it declares, loads and validates; the smoke
variants of the experiments no other test trains run end to end here (the others are trained where their family
is tested: tests/models/test_autoencoder.py, test_denoising_vae.py, tests/models/test_priors.py, test_train.py,
test_cli.py); and what some experiments promise of their own settings, some of it through a training.
"""

import pathlib
import re

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dvae_jax import configs, evaluate, train
from dvae_jax.configs import ConfigError, load_experiment, validate
from dvae_jax.experiment import Experiment, build_experiment
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


@pytest.mark.parametrize(
  "name", ["mnist_binarized_mlp_vae", "mnist_mlp_vae", "mnist_mixture_vae", "mnist_mixture_vae_standard_prior"]
)
def test_smoke_variant_trains(name, shared_data, tmp_path):
  config = load_experiment(name, "smoke")
  config.data.dir = str(shared_data)
  config.data.train_limit = 64
  config.train.num_epochs = 1
  config.train.batch_size = 32
  config.train.progress_bar = False
  config.num_devices = 1
  valid = train.train_and_evaluate(config, tmp_path)
  assert np.isfinite(valid["neg_elbo_nats"]) and valid["neg_elbo_nats"] > 0


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


@pytest.mark.parametrize(("variant", "channels"), [("colour", 3), ("grayscale", 1)])
def test_mlp_vae_trains_in_colour_and_in_grayscale(variant, channels, cifar_data, tmp_path):
  config = smoke_config("cifar10_mlp_vae", f"{variant},smoke", data__dir=str(cifar_data))
  assert config.model.network.name == "mlp" and config.model.likelihood == "bernoulli"
  experiment, _ = _train_pulse(config, tmp_path)
  assert experiment.hparams.image_shape == (32, 32, channels)
  assert len(experiment.splits.train) == 5 * TRAIN_PER_FILE - 12


def test_conv_vae_trains_on_cifar10(cifar_data, tmp_path):
  config = smoke_config("cifar10_conv_vae", "smoke", data__dir=str(cifar_data))
  experiment, _ = _train_pulse(config, tmp_path)
  assert experiment.hparams.image_shape == (32, 32, 3)


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
