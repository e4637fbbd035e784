"""The library from Python, as the README's example and docstrings promise: a training step on a
host batch, and a restored run that encodes, decodes, reconstructs and samples images as the
dataset stores them, refusing anything else."""

import jax
import numpy as np
import pytest

import dvae_jax
from dvae_jax.experiment import build_experiment
from dvae_jax.workdir import Run


@pytest.fixture(scope="module")
def experiment(tiny_config):
  return build_experiment(tiny_config(family="vae"))


def test_a_step_on_a_host_batch(experiment):
  state = experiment.init_state()
  state, metrics = experiment.train_step(state, experiment.device_batch("train", np.arange(16)[None]))
  assert int(state.step) == 1 and metrics["loss"].shape == (1,) and np.isfinite(metrics["loss"]).all()
  sums, count = experiment.eval_step(state, experiment.device_batch("valid", np.arange(32)), jax.random.key(0))
  assert float(count) == 32 and np.isfinite(float(sums["neg_elbo_nats"]))
  images = experiment.splits.test.take(np.arange(4))
  with pytest.raises(KeyError, match="needs the keys 'image', 'label' and 'id'"):
    experiment.prepare({"image": images["image"], "label": images["label"]})


def test_a_run_takes_images_as_stored_and_refuses_others(experiment, tmp_path):
  run = Run(tmp_path, experiment, experiment.init_state(), 0)
  images = run.split("test").take(np.arange(4))["image"]  # uint8 [4, 28, 28, 1]
  mean, logvar = run.encode(images)
  assert mean.shape == logvar.shape == (4, experiment.hparams.latent_dim)
  # The same as encoding the preprocessed inputs, i.e. not the raw 0-255 pixels.
  inputs = run.inputs(images)
  assert inputs.dtype == np.float32 and 0.0 <= float(inputs.min()) and float(inputs.max()) <= 1.0
  assert run.reconstruct(images).shape == images.shape and run.sample(3).shape == (3, *images.shape[1:])
  assert run.decode(np.zeros((2, experiment.hparams.latent_dim))).shape == (2, *images.shape[1:])
  with pytest.raises(ValueError, match=r"expected images as the dataset stores them: uint8 \[N, 28, 28, 1\]"):
    run.encode(images.astype(np.float32) / 255.0)
  with pytest.raises(ValueError, match="uint8"):
    run.encode(images[..., 0])  # no channel axis


def test_the_package_exports_its_entry_points():
  assert dvae_jax.load_experiment("mnist_vae:smoke").train.num_epochs == 2
  assert callable(dvae_jax.train_and_evaluate) and callable(dvae_jax.restore_run)
  with pytest.raises(AttributeError, match="no attribute 'trian'"):
    dvae_jax.trian  # noqa: B018
