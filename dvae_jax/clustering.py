"""How well a model's mixture components cluster the labels: counts, accuracy, NMI, on any split.

A cluster index carries no label, so its accuracy is measured under the best mapping of clusters to
labels: one-to-one (the Hungarian algorithm on the contingency table, as VaDE (Jiang et al., IJCAI
2017) and DEC compute their unsupervised clustering accuracy; with more clusters than labels, the
clusters left unmatched count as wrong, as do the labels left unmatched with fewer), or many-to-one
(each cluster votes for its majority label; what Dilokthanakul et al. 2016 report for K > classes;
it rises towards 1 as K grows, so compare it only at equal K). The normalized mutual information
(scikit-learn's, arithmetic normalization) needs no mapping.

A model clusters when its prior is a mixture and its module has `cluster` (models/family.py): the
component most responsible for an image's posterior mean. `split_metrics` is what validation (every
epoch) and `dvae evaluate` report for such a model; `every_image` is the clustering literature's data
(VaDE and DEC report MNIST on all 70,000 images, the training and test files together).
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from scipy.optimize import linear_sum_assignment

from dvae_jax import eval_loop, parallel
from dvae_jax.data import Split, Splits
from dvae_jax.models.priors import MixturePrior


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


def matched_labels(counts: np.ndarray) -> dict[int, int]:
  """cluster -> the label the best one-to-one mapping gives it (unmatched clusters are left out)."""
  rows, cols = linear_sum_assignment(counts, maximize=True)
  return {int(row): int(col) for row, col in zip(rows, cols, strict=True)}


def normalized_mutual_information(counts: np.ndarray) -> float:
  """scikit-learn's normalized mutual information (arithmetic mean of the entropies) of the labels and
  the clusters whose contingency table is `counts`."""
  from sklearn.metrics import normalized_mutual_info_score  # only where a clustering is scored

  clusters, labels = np.nonzero(counts)
  repeats = counts[clusters, labels]
  return float(normalized_mutual_info_score(np.repeat(labels, repeats), np.repeat(clusters, repeats)))


def clusters(experiment) -> bool:
  """Whether the experiment's model clusters: a mixture prior and a module with `cluster`."""
  return isinstance(getattr(experiment.hparams, "prior", None), MixturePrior) and hasattr(experiment.model, "cluster")


def cluster_counts(experiment, state, split: Split) -> np.ndarray:
  """Counts [components, classes] of the images of `split` by mixture component (`cluster`) and label."""
  program = _counting(
    experiment.model, experiment.prepare, experiment.hparams.prior.components, experiment.hparams.num_classes
  )
  batches = eval_loop.split_batches(split, experiment.config.train.eval_batch_size, "mixture components")
  return eval_loop.summed(
    eval_loop.map_batches(program, state, batches, parallel.batch_sharding(experiment.mesh)), np.int64
  )


# The jitted programs below are built once per experiment (its model and its `prepare`), not at every
# call: validation counts the components every epoch, and a new function would be traced and compiled anew.
@functools.lru_cache(maxsize=8)
def _counting(model, prepare, components: int, num_classes: int):
  @jax.jit
  def counts(state, batch):
    inputs = prepare(batch)
    variables = {"params": state.params, **state.model_state}
    assigned = model.apply(variables, inputs["image"], method="cluster")
    table = jnp.zeros((components, num_classes), jnp.int32)
    return table.at[assigned, inputs["label"]].add(batch["mask"].astype(jnp.int32))

  return counts


@functools.lru_cache(maxsize=8)
def _encoding(model, prepare, out_sharding):
  def encode(state, batch):
    image = prepare(batch)["image"]
    return model.apply({"params": state.params, **state.model_state}, image, method="encode")[0]

  return jax.jit(encode, out_shardings=out_sharding)


def scores(counts: np.ndarray) -> dict[str, float]:
  """The clustering's numbers for a contingency table: accuracy one-to-one and many-to-one, NMI, and how
  many components hold any image."""
  return {
    "cluster_accuracy": one_to_one_accuracy(counts),
    "cluster_accuracy_many_to_one": many_to_one_accuracy(counts),
    "cluster_nmi": normalized_mutual_information(counts),
    "cluster_components_used": int(np.count_nonzero(counts.sum(axis=1))),
  }


def split_metrics(experiment, state, split: Split, *, suffix: str = "") -> dict[str, float]:
  """`scores` of the model's components on `split` (keys + `suffix`); {} for a model that does not cluster
  or an empty split."""
  if not clusters(experiment) or not len(split):
    return {}
  return {f"{name}{suffix}": value for name, value in scores(cluster_counts(experiment, state, split)).items()}


def every_image(splits: Splits) -> Split:
  """The training, validation and test splits as one, each example once (by id), in that order: every
  image of the dataset's files that the run reads (a run with data.train_limit or eval_limit reads fewer)."""
  parts = (splits.train, splits.valid, splits.test)
  _, first = np.unique(np.concatenate([part.ids for part in parts]), return_index=True)
  first.sort()
  fields = {}
  for field in dataclasses.fields(Split):
    values = [getattr(part, field.name) for part in parts]
    fields[field.name] = None if any(value is None for value in values) else np.concatenate(values)[first]
  return Split(**fields)


def posterior_means(experiment, state, split: Split) -> np.ndarray:
  """Posterior means [N, z] (`encode`, eval mode) of every image of `split`, in order."""
  encode = _encoding(experiment.model, experiment.prepare, parallel.replicated(experiment.mesh))
  batches = eval_loop.split_batches(split, experiment.config.train.eval_batch_size, "posterior means")
  outputs = eval_loop.map_batches(encode, state, batches, parallel.batch_sharding(experiment.mesh))
  return eval_loop.concatenated(outputs, len(split))
