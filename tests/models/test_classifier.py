"""models/classifier.py: the reference classifier's size and its features (the penultimate layer)."""

import jax
import jax.numpy as jnp
import numpy as np

from dvae_jax import configs
from dvae_jax.experiment import Experiment
from dvae_jax.models import get_family, model_config


def test_reference_classifier_parameter_count():
  config = configs.presets.classifier_reference(configs.base_config("classifier"))
  hparams = model_config(config.model, image_shape=(28, 28, 1), num_classes=10)
  model = get_family("classifier").module(hparams)
  variables = jax.eval_shape(lambda x: model.init(jax.random.key(0), x, train=False), jnp.zeros((1, 28, 28, 1)))
  # convs 3328 + 204864 + 51232 (28 -> 14 -> 7 -> 4), FC 525312 + 524800 + 262656, output layer 5130.
  assert sum(leaf.size for leaf in jax.tree.leaves(variables["params"])) == 1_577_322


def test_classifier_features_are_the_penultimate_layer(tiny_classifier):
  experiment = tiny_classifier.experiment
  images = jnp.asarray(experiment.splits.test.images[:4], jnp.float32) / 255.0
  variables = Experiment.variables(tiny_classifier.state)
  features = experiment.model.apply(variables, images, method="features")
  assert features.shape == (4, experiment.hparams.network.fc_sizes[-1])
  assert features.dtype == jnp.float32
  outputs = experiment.model.apply(variables, images, train=False)
  np.testing.assert_array_equal(features, outputs["features"])
