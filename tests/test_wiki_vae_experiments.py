"""The 2017 VAE wiki page's CIFAR-10 and CelebA experiments (experiments/cifar10_mlp_vae.py and
cifar10_conv_vae.py): their smoke variants train on generated data (small CIFAR-10 files in the
official binary layout; a folder of drawn, non-square PNG "faces"), with the image shapes each variant
promises, and a forced divergence stops training through the non-finite-loss guard."""

import pathlib
import re

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dvae_jax import main, train
from dvae_jax.checkpoint import Checkpointer
from dvae_jax.configs import load_experiment
from dvae_jax.experiment import Experiment, build_experiment
from tests.helpers import REPO, point_at_folder

TRAIN_PER_FILE, TEST_IMAGES = 24, 40  # 120 training images: 108 after the first 10% go to validation
NUM_FACES = 60  # 12 test images (20%), 48 training, of which 5 validate


@pytest.fixture(scope="module")
def cifar_data(tmp_path_factory) -> pathlib.Path:
  """A data dir whose cifar10/ holds random images in the official binary layout (label byte, R, G, B planes)."""
  rng = np.random.default_rng(0)
  data = tmp_path_factory.mktemp("data")
  directory = data / "cifar10" / "cifar-10-batches-bin"
  directory.mkdir(parents=True)
  files = [(f"data_batch_{i}.bin", TRAIN_PER_FILE) for i in range(1, 6)] + [("test_batch.bin", TEST_IMAGES)]
  for name, count in files:
    labels = rng.integers(0, 10, (count, 1), dtype=np.uint8)
    pixels = rng.integers(0, 256, (count, 3 * 32 * 32), dtype=np.uint8)
    (directory / name).write_bytes(np.concatenate([labels, pixels], axis=1).tobytes())
  return data


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


def _smoke(name: str, variant: str, **overrides):
  config = load_experiment(name, variant)
  config.train.num_epochs = 1
  config.train.progress_bar = False
  config.num_devices = 1
  for key, value in overrides.items():
    section, field = key.split("__")
    config[section][field] = value
  return config


def _train_pulse(config, workdir: pathlib.Path) -> tuple[Experiment, dict[str, float]]:
  experiment = build_experiment(config)
  valid = train.run_training(experiment, workdir)
  assert np.isfinite(list(valid.values())).all(), valid
  assert valid["neg_elbo_nats"] > 0
  return experiment, valid


@pytest.mark.parametrize(("variant", "channels"), [("colour", 3), ("grayscale", 1)])
def test_mlp_vae_trains_in_colour_and_in_grayscale(variant, channels, cifar_data, tmp_path):
  config = _smoke("cifar10_mlp_vae", f"{variant},smoke", data__dir=str(cifar_data))
  assert config.model.network.name == "mlp" and config.model.likelihood == "bernoulli"
  experiment, _ = _train_pulse(config, tmp_path)
  assert experiment.hparams.image_shape == (32, 32, channels)
  assert len(experiment.splits.train) == 5 * TRAIN_PER_FILE - 12


def test_conv_vae_trains_on_cifar10(cifar_data, tmp_path):
  config = _smoke("cifar10_conv_vae", "smoke", data__dir=str(cifar_data))
  experiment, _ = _train_pulse(config, tmp_path)
  assert experiment.hparams.image_shape == (32, 32, 3)


def test_conv_vae_trains_on_a_face_folder_at_64x64(celeba_folder, tmp_path):
  config = _smoke("cifar10_conv_vae", "celeba,smoke", train__batch_size=16)
  point_at_folder(config, celeba_folder, tmp_path / "cache")
  experiment, _ = _train_pulse(config, tmp_path / "run")
  assert experiment.hparams.image_shape == (64, 64, 3)
  assert len(experiment.splits.test) == NUM_FACES // 5


@pytest.mark.parametrize(("variant", "side"), [("cifar10", 32), ("celeba", 64)])
def test_conv_vae_is_pooling_free_down_to_an_8x8_grid(variant, side):
  network = load_experiment("cifar10_conv_vae", variant).model.network
  assert network.name == "dcgan_conv" and not network.batch_norm  # strided convs only, no pooling
  assert side // 2**network.stages == 8


def test_forced_divergence_stops_the_cli_with_the_guards_message(cifar_data, tmp_path, monkeypatch, capsys):
  """The command and message docs/reference.md quotes (section 5)."""
  monkeypatch.chdir(REPO)
  status = main.invoke(
    "train",
    "--config",
    "experiments/cifar10_mlp_vae.py:smoke",
    "--workdir",
    str(tmp_path / "run"),
    f"--config.data.dir={cifar_data}",
    "--config.optim.learning_rate=1e3",
  )
  stderr = capsys.readouterr().err
  assert status == 1, stderr
  (paragraph,) = [line for line in stderr.splitlines() if line.startswith("dvae: error: ")]
  assert re.fullmatch(
    r"dvae: error: Training stopped: metric 'loss' is not finite at step 2 \(loss=nan, .*kl_nats=inf, .*"
    r"every step before it was finite\); no checkpoint had been written yet\. "
    r"Consider a lower optim\.learning_rate, gradient clipping \(optim\.clip_value\) or a config error\.",
    paragraph,
  ), paragraph
  assert "Traceback" not in stderr
  assert Checkpointer(tmp_path / "run" / "checkpoints").latest_step() is None


@pytest.mark.parametrize(("name", "variant"), [("cifar10_mlp_vae", "grayscale,smoke"), ("cifar10_conv_vae", "smoke")])
def test_forced_divergence_raises_the_non_finite_error(name, variant, cifar_data, tmp_path):
  # The first non-finite metric is named: the loss for the MLP, the gradient norm (loss still finite) for the conv net.
  config = _smoke(name, variant, data__dir=str(cifar_data), optim__learning_rate=1e3)
  with pytest.raises(train.NonFiniteError, match=r"metric '\w+' is not finite at step \d+ \(\w+=(nan|inf|-inf)"):
    train.train_and_evaluate(config, tmp_path)
