"""evaluate.py: `dvae evaluate` and the table/figure tooling on tiny runs over real MNIST, the classifier's features of
an image array, and the importance-weighted proposal of an "average_z" model."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from dvae_jax import evaluate, image_metrics, train
from dvae_jax.checkpoint import CheckpointError
from dvae_jax.experiment import Experiment
from dvae_jax.figures import make_comparison_figures
from tests.helpers import hparams, init_model


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_config):
  root = tmp_path_factory.mktemp("runs")
  # The reference's learning rate for its classifier (0.01): two tiny epochs then beat chance clearly.
  classifier = tiny_config(
    family="classifier", train__num_epochs=2, optim__learning_rate=0.01, model__network__conv_channels=(8, 8, 8)
  )
  train.train_and_evaluate(classifier, root / "classifier")
  train.train_and_evaluate(tiny_config(family="dvae"), root / "dvae")
  train.train_and_evaluate(tiny_config(family="vae"), root / "vae")
  return root


def test_evaluate_with_classifier_and_likelihood(runs):
  result = evaluate.evaluate_checkpoint(runs / "dvae", classifier_workdir=runs / "classifier")
  assert json.loads((runs / "dvae" / "eval_test.json").read_text()) == result
  assert 0.0 <= result["classifier_error_on_reconstructions"] <= 1.0
  assert result["iw_samples"] == 20 and result["iw_num_examples"] == 64
  assert result["iw_bits_per_dim"] == pytest.approx(result["iw_nll_nats"] / (784 * 0.6931471805599453))
  # The importance-weighted bound is at least as tight as the ELBO of the same (output) likelihood.
  assert result["iw_nll_nats"] <= result["output_recon_nats"] + result["kl_nats"] + 1.0
  assert result["iw_nll_nats"] > 0


def test_classifier_reports_its_error_on_real_images(runs):
  result = evaluate.evaluate_checkpoint(runs / "classifier")
  assert 0.0 <= result["label_error"] < 0.9  # better than chance after two tiny epochs
  assert "iw_nll_nats" not in result and "reference_loss" not in result


def test_classifier_must_see_the_same_preprocessing(runs, tiny_config, tmp_path):
  other = tiny_config(family="classifier", data__invert=False, model__network__conv_channels=(8, 8, 8))
  train.train_and_evaluate(other, tmp_path)
  with pytest.raises(CheckpointError, match="differently preprocessed"):
    evaluate.evaluate_checkpoint(runs / "vae", classifier_workdir=tmp_path, iw_samples=0)


def test_binarized_likelihood_protocol(tiny_config, tmp_path):
  config = tiny_config(family="vae", data__invert=False, data__binarize="dynamic")
  train.train_and_evaluate(config, tmp_path)
  result = evaluate.evaluate_checkpoint(tmp_path)
  # On binary data a Bernoulli likelihood is a probability: -log p(x) is a positive number of nats.
  assert 0 < result["iw_nll_nats"] <= result["neg_elbo_nats"] + 1.0


def test_figures(runs, tmp_path):
  paths = make_comparison_figures({"VAE": runs / "vae", "DVAE": runs / "dvae"}, tmp_path, num_images=4)
  assert [p.name for p in paths] == ["validation_curves.png", "test_reconstructions.png", "prior_samples.png"]
  for path in paths:
    assert Image.open(path).format == "PNG"


def test_classifier_features_of_an_image_array_batch_by_batch(tiny_classifier):
  experiment = tiny_classifier.experiment
  images = experiment.splits.test.images[:37].astype(np.float32) / 255.0  # two batches of 16 and a padded 5
  features = evaluate.classifier_features(tiny_classifier, images, batch_size=16)
  direct = experiment.model.apply(Experiment.variables(tiny_classifier.state), images, method="features")
  assert features.shape == direct.shape == (37, experiment.hparams.network.fc_sizes[-1])
  np.testing.assert_allclose(features, direct, rtol=1e-5, atol=1e-6)
  assert image_metrics.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-9)
  with pytest.raises(ValueError, match="takes images"):
    evaluate.classifier_features(tiny_classifier, images[..., 0])


def test_importance_weighted_proposal_of_average_z_is_the_decoded_posterior():
  """k = 1 importance sample of an "average_z" model with samples 4: z = mean + (sigma / 2) eps, and
  the weight is log p(x|z) + log N(z; 0, I) - log N(z; mean, sigma^2 / 4), computed here in numpy."""
  from dvae_jax.evaluate import log_marginal_estimate

  config = hparams(
    "vae",
    "mlp",
    net=dict(fc_sizes=(8,)),
    data=dict(image_shape=(2, 2, 1), num_classes=2),
    latent_dim=3,
    samples=4,
    sample_mode="average_z",
    label_head=False,
  )
  module, x, variables = init_model(config, 2, abstract=False)
  x = jnp.array([[[[0.0], [1.0]], [[1.0], [0.0]]], [[[1.0], [1.0]], [[0.0], [1.0]]]])
  key = jax.random.key(11)
  got = log_marginal_estimate(module, variables, config, x, key, num_samples=1, chunk_size=1)
  mean, logvar = (np.asarray(a, np.float64) for a in module.apply(variables, x, method="encode"))
  eps = np.asarray(jax.random.normal(jax.random.fold_in(key, 0), (1, *mean.shape)), np.float64)
  var = np.exp(logvar) / 4
  z = mean + np.sqrt(var) * eps  # [1, B, z]
  logits = np.asarray(module.apply(variables, jnp.asarray(z, jnp.float32), method="output_logits"), np.float64)
  xs = np.asarray(x, np.float64)[None]
  log_px_z = np.sum(xs * -np.logaddexp(0, -logits) + (1 - xs) * -np.logaddexp(0, logits), axis=(2, 3, 4))
  log_p = np.sum(-0.5 * (z**2 + np.log(2 * np.pi)), axis=-1)
  log_q = np.sum(-0.5 * ((z - mean) ** 2 / var + np.log(2 * np.pi * var)), axis=-1)
  np.testing.assert_allclose(np.asarray(got), (log_px_z + log_p - log_q)[0], rtol=1e-5, atol=1e-4)
