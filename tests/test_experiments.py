"""Every experiment config: its default and smoke variants validate and build; the smoke variants of
the experiments no other test trains run end to end here (the others are trained where their family
is tested: test_autoencoders, test_denoising_vae, test_mixture_prior, test_train, test_cli)."""

import numpy as np
import pytest

from dvae_jax import configs, train
from dvae_jax.configs import load_experiment
from dvae_jax.experiment import build_experiment
from tests.helpers import REPO, point_at_folder

EXPERIMENTS = sorted(path.stem for path in (REPO / "experiments").glob("*.py"))
NEEDS_FILES = ("cifar10_",)  # CIFAR-10 is not on these machines (trained on generated files in test_train)


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
