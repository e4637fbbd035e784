"""Typed, frozen model hyperparameters: modules never see a ConfigDict."""

import dataclasses

import ml_collections

ARCHITECTURES = ("conv", "mlp")
LIKELIHOODS = ("bernoulli", "gaussian")
SAMPLE_MODES = ("average_z", "elbo")
NOISE_TYPES = ("gaussian", "dropout")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """Everything a model family needs to build its modules and losses."""

  family: str
  image_shape: tuple[int, int, int]  # (H, W, C) after preprocessing
  num_classes: int
  architecture: str = "conv"
  latent_dim: int = 50
  conv_channels: tuple[int, ...] = (64, 64)
  kernel_size: int = 5
  fc_sizes: tuple[int, ...] = (384, 192)  # encoder order; the decoder mirrors it
  activation: str = "relu"
  kernel_init: str = "xavier_normal"
  batch_norm: bool = True
  bn_momentum: float = 0.999
  bn_trainable_affine: bool = False
  likelihood: str = "bernoulli"
  gaussian_log_std: float = 0.0
  samples: int = 1
  sample_mode: str = "average_z"
  label_head: bool = True
  label_loss_weight: float = 1.0
  share_encoder: bool = True
  noise_type: str = "gaussian"
  noise_std: float = 0.5
  noise_drop_rate: float = 0.3
  weight_decay: float = 0.0


def spec_from_config(
  model: ml_collections.ConfigDict, *, image_shape: tuple[int, int, int], num_classes: int
) -> ModelSpec:
  """Freezes `config.model` into a ModelSpec (lists become tuples)."""
  fields = {f.name for f in dataclasses.fields(ModelSpec)}
  values = {k: (tuple(v) if isinstance(v, list | tuple) else v) for k, v in model.items() if k in fields}
  return ModelSpec(**values, image_shape=tuple(image_shape), num_classes=num_classes)
