"""`dvae evaluate` and the table/figure tooling on tiny runs over real MNIST."""

import json

import jax
import jax.numpy as jnp
import pytest
from PIL import Image

from dvae_jax import configs, evaluate, train
from dvae_jax.checkpoint import CheckpointError
from dvae_jax.figures import make_comparison_figures
from dvae_jax.models import get_family, model_config


def test_reference_classifier_parameter_count():
  config = configs.presets.classifier_reference(configs.base_config("classifier"))
  hparams = model_config(config.model, image_shape=(28, 28, 1), num_classes=10)
  model = get_family("classifier").module(hparams)
  variables = jax.eval_shape(lambda x: model.init(jax.random.key(0), x, train=False), jnp.zeros((1, 28, 28, 1)))
  # convs 3328 + 204864 + 51232 (28 -> 14 -> 7 -> 4), FC 525312 + 524800 + 262656, output layer 5130.
  assert sum(leaf.size for leaf in jax.tree.leaves(variables["params"])) == 1_577_322


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
