"""The reference's separate evaluation classifier: the network's encoder and its label layer (FC ->
batch norm with fixed scale and offset, as the reference builds every stack's last layer)."""

import dataclasses
from typing import ClassVar

import flax.linen as nn
import jax

from dvae_jax.models.family import FAMILIES, Family, ModelConfig, Terms
from dvae_jax.models.vae import _label_terms, label_logits


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClassifierConfig(ModelConfig):
  family: str = "classifier"
  weight_decay: float = 5e-4
  l2_scheme: str = "reference"  # the classifier's own loss term: each parameter once per image
  label_batch_norm: bool = True  # batch-normalized logits (see VAEConfig)
  DECODES: ClassVar[bool] = False


class Classifier(nn.Module):
  config: ClassifierConfig

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> dict[str, jax.Array]:
    cfg = self.config
    features = cfg.architecture.encoder(cfg.network, name="trunk")(x, train=train)  # [B, F]
    return {"features": features, "label_logits": label_logits(cfg, features, train=train)}

  def classify(self, x: jax.Array) -> jax.Array:
    """Class logits [B, classes] (eval mode)."""
    return self(x, train=False)["label_logits"]

  def features(self, x: jax.Array) -> jax.Array:
    """The penultimate features [B, F] (eval mode): the trunk's output, which the label layer reads.

    The feature space of the classifier-feature Frechet distance (`image_metrics`). Returned by
    `__call__` rather than built here because a compact module's submodules exist only in
    `__call__`; the label layer it also runs is one small dense layer.
    """
    return self(x, train=False)["features"]


def classifier_terms(outputs: dict[str, jax.Array], batch: dict[str, jax.Array], config: ClassifierConfig) -> Terms:
  del config
  terms = _label_terms(outputs["label_logits"], batch["label"])
  return terms, terms["label_ce_nats"]


FAMILIES.register(
  "classifier", Family(ClassifierConfig, Classifier, classifier_terms, l2_multiplicity=lambda path, config: 1)
)
