"""Published numbers the experiments reproduce, for `dvae evaluate` and the study files' tables
(`Group.published`) to print beside a run's own.

An experiment names its source with `config.published` (e.g. "dojoteef/dvae"); the cell is then
looked up by the run's data, family and samples. Every number here is copied from
docs/reference.md (one run per cell, no error bars).
"""

from typing import Any

DVAE_REFERENCE = "dojoteef/dvae"

# (data, family, samples) -> (test loss, test KLD, classifier error on reconstructions in %).
DVAE_TABLE = {
  ("mnist", "vae", 1): (74.248, 20.900, 3.85),
  ("mnist", "dvae", 1): (71.648, 25.728, 2.99),
  ("mnist", "vae", 5): (68.786, 14.333, 2.16),
  ("mnist", "dvae", 5): (65.132, 19.581, 1.66),
  ("cifar10", "vae", 1): (1811.562, 35.668, 71.84),
  ("cifar10", "dvae", 1): (1790.816, 52.144, 70.61),
  ("cifar10", "vae", 5): (1787.758, 24.735, 71.76),
  ("cifar10", "dvae", 5): (1783.657, 35.619, 70.61),
}
CLASSIFIER_ERROR = {"mnist": 1.01, "cifar10": 22.23}  # on real test images, %
EPOCHS = {
  ("mnist", "classifier"): 60,
  ("mnist", "model"): 250,
  ("cifar10", "classifier"): 250,
  ("cifar10", "model"): 500,
}


def published_metrics(config: Any) -> dict[str, Any] | None:
  """The published values of the run `config` describes, keyed by this package's metric names
  (errors as fractions), plus "epochs"; None when the experiment names no published source or
  the source has no such cell.

  The reference's "test loss" of a DVAE is one of its two decoders' (its code logs both), so the
  published value stands beside both of ours.
  """
  if config.get("published") != DVAE_REFERENCE:
    return None
  data, family = config.data.name, config.model.family
  if family == "classifier":
    if data not in CLASSIFIER_ERROR:
      return None
    return {"label_error": CLASSIFIER_ERROR[data] / 100, "epochs": EPOCHS[data, "classifier"]}
  cell = DVAE_TABLE.get((data, family, config.model.samples))
  if cell is None:
    return None
  loss, kld, error = cell
  losses = ("reference_loss_dae_decoder", "reference_loss_vae_decoder") if family == "dvae" else ()
  return {
    "reference_loss": loss,
    **dict.fromkeys(losses, loss),
    "kl_nats": kld,
    "classifier_error_on_reconstructions": error / 100,
    "epochs": EPOCHS[data, "model"],
  }
