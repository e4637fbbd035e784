"""Cluster metrics (clustering.py) on hand-made assignments: NMI against scikit-learn on the labels, the
one-to-one matching, and every image of a run's splits once."""

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from dvae_jax import clustering
from dvae_jax.data import Split, Splits


def test_nmi_from_the_contingency_table_equals_scikit_learns_on_the_labels():
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 4, 500)
  clusters = np.where(rng.uniform(size=500) < 0.7, labels, rng.integers(0, 5, 500))  # 5 clusters, 4 labels
  counts = clustering.contingency(clusters, labels, 5, 4)
  expected = normalized_mutual_info_score(labels, clusters)
  assert abs(clustering.normalized_mutual_information(counts) - expected) < 1e-12
  assert clustering.normalized_mutual_information(np.diag([3, 4, 5])) == 1.0  # a perfect clustering


def test_the_matching_is_the_one_of_the_accuracy():
  # counts [[5, 1], [0, 4], [2, 2]]: components 0 -> label 0, 1 -> label 1, component 2 unmatched.
  counts = np.array([[5, 1], [0, 4], [2, 2]])
  assert clustering.matched_labels(counts) == {0: 0, 1: 1}
  assert clustering.matched_labels(np.array([[0, 7], [6, 1]])) == {0: 1, 1: 0}
  scores = clustering.scores(counts)
  assert scores["cluster_accuracy"] == 9 / 14 and scores["cluster_components_used"] == 3


def test_every_image_takes_each_example_once():
  def split(ids):
    ids = np.asarray(ids, np.int32)
    return Split(ids[:, None, None, None].astype(np.uint8), ids % 3, ids)

  # A run that trains on the test file too (data.train_on_test) has the test images in two splits.
  splits = Splits(train=split([0, 1, 2, 5, 6]), valid=split([3, 4]), test=split([5, 6]), num_classes=3)
  every = clustering.every_image(splits)
  np.testing.assert_array_equal(every.ids, [0, 1, 2, 5, 6, 3, 4])
  np.testing.assert_array_equal(every.images[:, 0, 0, 0], every.ids)
  np.testing.assert_array_equal(every.labels, every.ids % 3)


def test_cluster_accuracy_of_hand_made_assignments():
  labels = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2])
  permuted = np.array([2, 2, 0, 0, 0, 1, 1, 1, 1])  # a perfect clustering under other names
  counts = clustering.contingency(permuted, labels, 3, 3)
  assert clustering.one_to_one_accuracy(counts) == 1.0 and clustering.many_to_one_accuracy(counts) == 1.0
  # 3 components, 2 classes; counts [[5, 1], [0, 4], [2, 2]]: one-to-one matches 0 -> 0 and 1 -> 1
  # (5 + 4 of 14; component 2 is unmatched, so its 4 images are wrong); majority votes 5 + 4 + 2.
  clusters = np.repeat([0, 0, 1, 1, 2, 2], [5, 1, 0, 4, 2, 2])
  labels = np.repeat([0, 1, 0, 1, 0, 1], [5, 1, 0, 4, 2, 2])
  counts = clustering.contingency(clusters, labels, 3, 2)
  np.testing.assert_array_equal(counts, [[5, 1], [0, 4], [2, 2]])
  assert clustering.one_to_one_accuracy(counts) == pytest.approx(9 / 14)
  assert clustering.many_to_one_accuracy(counts) == pytest.approx(11 / 14)
  # Fewer components than classes: counts [[3, 2, 0], [0, 1, 4]]; class 1 stays unmatched.
  counts = np.array([[3, 2, 0], [0, 1, 4]])
  assert clustering.one_to_one_accuracy(counts) == pytest.approx(7 / 10)
  assert clustering.many_to_one_accuracy(counts) == pytest.approx(7 / 10)


def test_validation_counts_the_components_with_one_program_compiled_once(tiny_config):
  """split_metrics runs at every epoch's validation: the counting and encoding programs are built once per
  experiment, so a second call traces and compiles nothing."""
  from dvae_jax.experiment import build_experiment

  experiment = build_experiment(tiny_config(family="vade", network="mlp", model__network__fc_sizes=(16,)))
  state = experiment.init_state()
  first = clustering.split_metrics(experiment, state, experiment.splits.valid)
  assert "cluster_accuracy" in first
  means = clustering.posterior_means(experiment, state, experiment.splits.valid)
  program = clustering._counting(
    experiment.model, experiment.prepare, experiment.hparams.prior.components, experiment.hparams.num_classes
  )
  compiled = program._cache_size()
  assert clustering.split_metrics(experiment, state, experiment.splits.valid) == first
  np.testing.assert_array_equal(clustering.posterior_means(experiment, state, experiment.splits.valid), means)
  assert program._cache_size() == compiled == 1
