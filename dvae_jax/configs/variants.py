"""Named variants of an experiment (`path.py:variant` on the command line): "smoke" and "cpu" for
every experiment, combinable with an experiment's own variants ("l2,smoke")."""

from collections.abc import Sequence

import ml_collections

from dvae_jax.configs.locking import nearest
from dvae_jax.errors import ConfigError
from dvae_jax.models import ARCHITECTURES

VARIANTS = ("smoke", "cpu")


def split_variants(variant: str | None, own: Sequence[str]) -> tuple[list[str], str | None]:
  """An experiment's comma-separated variant: (its own variant names in `own`, at most one generic
  variant of VARIANTS, or None). Anything else is a ConfigError listing what is valid."""
  names = [name for name in (variant or "").split(",") if name]
  generic = [name for name in names if name not in own]
  if len(generic) > 1 or any(name not in VARIANTS for name in generic):
    unknown = "".join(
      f" {name!r} is not a variant{_guess(name, (*own, *VARIANTS))};" for name in generic if name not in VARIANTS
    )
    raise ConfigError(
      f"config variant {variant!r}:{unknown} expected names from {list(own)} and at most one of {list(VARIANTS)}, "
      "comma-separated. Nothing was loaded."
    )
  return [name for name in names if name in own], (generic[0] if generic else None)


def _guess(name: str, valid: Sequence[str]) -> str:
  """ " (did you mean 'smoke'?)" with the `valid` variants nearest to `name`; "" if none is near."""
  near = nearest(name, valid)
  return f" (did you mean {near}?)" if near else ""


def apply_variant(config: ml_collections.ConfigDict, variant: str | None) -> ml_collections.ConfigDict:
  """Applies a named variant (`path.py:variant` on the command line) to an experiment config.

  "smoke": a tiny model (the network's SMOKE sizes) on the first 512 training / 256 evaluation
  images, 2 short epochs, for tests and for checking that an experiment runs end to end (seconds
  on a CPU).
  "cpu": the experiment's own model and loss on a schedule compressed to finish on a laptop CPU
  (the reference DVAE: about 10 minutes of training on 2 cores): 2 epochs on the first 27,000
  training images, the learning rate decayed after the first (the reference's staircase,
  compressed), batch-norm momentum 0.9, and a test NLL with k = 100 importance samples on the first 1,000
  test images. A shortened run, labelled as such wherever its numbers are reported.

  Why momentum 0.9: the reference's 0.999 cannot forget its initial statistics in 842 steps, and
  under the reference's L2 (64-192 x a single weight decay) the weights before each batch norm keep
  shrinking during a short run, so running averages with a long memory lag behind the batch
  statistics: measured on the reference classifier after 150 steps, eval-mode error 89% with
  momentum 0.99 and 6.5% with 0.9 (3.9% in train mode for both).
  """
  if not variant:
    return config
  if variant not in VARIANTS:
    raise ConfigError(
      f"unknown config variant {variant!r}{_guess(variant, VARIANTS)}; valid variants: {list(VARIANTS)} (or none). "
      "Nothing was loaded."
    )
  if variant == "cpu":
    config.data.train_limit = 27_000
    config.train.num_epochs = 2
    config.optim.decay_epochs = 1
    if "bn_momentum" in config.model.network:
      config.model.network.bn_momentum = 0.9
    config.train.log_every_steps = 50
    config.eval.iw_samples = min(config.eval.iw_samples, 100)
    config.eval.iw_limit = 1000
    config.eval.recompute_batch_norm = 50
    return config
  config.data.train_limit = 512
  config.data.eval_limit = 256
  if "latent_dim" in config.model:
    config.model.latent_dim = 8
  # A tiny network of the same kind; running statistics must settle within a few steps.
  config.model.network.update(ARCHITECTURES.get_named(config.model.network.name).config.SMOKE)
  if "discriminator" in config.model:
    config.model.discriminator.update(ARCHITECTURES.get_named(config.model.discriminator.name).config.SMOKE)
  config.train.batch_size = 32
  config.train.eval_batch_size = 128
  config.train.num_epochs = 2
  config.train.log_every_steps = 4
  config.train.checkpoint_every_steps = 8
  config.train.grid_images = 16
  config.optim.learning_rate = 1e-3
  config.eval.iw_samples = 20
  config.eval.iw_chunk_size = 10
  config.eval.iw_batch_size = 32
  config.eval.iw_limit = 64
  return config
