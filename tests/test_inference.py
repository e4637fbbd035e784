"""inference.py: a restored run, from Python, encodes, decodes, reconstructs and samples images as the dataset
stores them, refusing anything else, and names what it expects."""

import numpy as np
import pytest

from dvae_jax.inference import Run


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


def test_a_run_names_the_code_size_and_the_splits_it_expects(experiment, tmp_path):
  run = Run(tmp_path, experiment, experiment.init_state(), 0)
  latent = experiment.hparams.latent_dim
  assert run.latent_dim == latent
  with pytest.raises(ValueError, match=rf"expects codes of shape \[N, {latent}\] .* got shape \[2, {latent + 1}\]"):
    run.decode(np.zeros((2, latent + 1)))
  with pytest.raises(ValueError, match=rf"got shape \[{latent}\]"):
    run.decode(np.zeros(latent))  # one code without its batch axis
  with pytest.raises(ValueError, match=r"run.split\('validation'\): no such split; expected one of 'train', 'valid'"):
    run.split("validation")
