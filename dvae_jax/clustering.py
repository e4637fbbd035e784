"""Accuracy of an unsupervised clustering against the labels, under a mapping of clusters to labels.

A cluster index carries no label, so its accuracy is measured under the best mapping of clusters to
labels: one-to-one (the Hungarian algorithm on the contingency table; with more clusters than
labels, the clusters left unmatched count as wrong, as do the labels left unmatched with fewer), or
many-to-one (each cluster votes for its majority label; what Dilokthanakul et al. 2016 report for
K > classes; it rises towards 1 as K grows, so compare it only at equal K).
"""

import numpy as np
from scipy.optimize import linear_sum_assignment


def contingency(clusters: np.ndarray, labels: np.ndarray, num_clusters: int, num_classes: int) -> np.ndarray:
  """Counts [num_clusters, num_classes] of each (cluster, label) pair."""
  clusters, labels = np.asarray(clusters).ravel(), np.asarray(labels).ravel()
  if clusters.shape != labels.shape:
    raise ValueError(f"{clusters.size} cluster indices for {labels.size} labels.")
  counts = np.zeros((num_clusters, num_classes), np.int64)
  np.add.at(counts, (clusters, labels), 1)
  return counts


def one_to_one_accuracy(counts: np.ndarray) -> float:
  """Accuracy under the best one-to-one mapping of clusters to labels (the Hungarian algorithm).

  Only min(clusters, classes) pairs are matched: the examples of an unmatched cluster are wrong.
  """
  rows, cols = linear_sum_assignment(counts, maximize=True)
  return float(counts[rows, cols].sum() / counts.sum())


def many_to_one_accuracy(counts: np.ndarray) -> float:
  """Accuracy when each cluster is mapped to its majority label."""
  return float(counts.max(axis=1).sum() / counts.sum())
