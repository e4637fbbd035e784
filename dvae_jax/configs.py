"""The one config system: a base ConfigDict that experiment files adjust, and its validation.

Experiment files (`experiments/*.py`) define `get_config(arg)` and start from
`base_config(family, network)`. Configs are locked, so a misspelt key is an error; `validate`
checks values.

The `model` section is the chosen family's own hyperparameters and nothing else (its dataclass in
`dvae_jax/models/`, where each key is documented), with the chosen network's under
`model.network`: a key the family or network does not read is an error, not silently ignored.
"""

import math
from collections.abc import Sequence
from typing import Any

import ml_collections
from ml_collections import config_dict

from dvae_jax import models
from dvae_jax.data.image_folder import CHANNELS, RESIZE_FILTERS
from dvae_jax.data.pipeline import BINARIZE, VALIDATION_SPLITS
from dvae_jax.data.sources import DATASETS, PATH_DATASETS
from dvae_jax.errors import ConfigError
from dvae_jax.models import ARCHITECTURES, hparams

__all__ = ["ConfigError", "apply_variant", "base_config", "validate"]

SCHEDULES = ("constant", "staircase", "exponential")


def base_config(family: str = "vae", network: str | None = None) -> ml_collections.ConfigDict:
  """Defaults: the reference MNIST VAE (dojoteef/dvae) for `family`; experiments override what differs.

  `model` holds `family`'s hyperparameters with their defaults, on `network` (the family's
  default network if None).
  """
  c = ml_collections.ConfigDict()
  c.seed = 0
  # The published results this experiment reproduces (dvae_jax/published.py), which `dvae evaluate`
  # prints beside the run's own; None for an experiment with none.
  c.published = config_dict.placeholder(str)
  c.num_devices = config_dict.placeholder(int)  # None: all visible devices

  c.data = ml_collections.ConfigDict()
  c.data.name = "mnist"
  c.data.dir = config_dict.placeholder(str)  # None: $DVAE_DATA_DIR, else ~/.cache/dvae_jax/data
  c.data.source = "raw"  # "raw" files or "tfds"
  c.data.download = True  # fetch missing MNIST / Fashion-MNIST files on first use
  c.data.grayscale = False
  c.data.invert = True  # the reference uses 1 - pixel / 255 for MNIST
  c.data.binarize = "none"
  c.data.validation_fraction = 0.1
  c.data.validation_split = "first"  # the reference: the first 10%, unshuffled
  c.data.train_limit = config_dict.placeholder(int)  # keep only the first N training examples
  c.data.eval_limit = config_dict.placeholder(int)  # and the first N validation / test examples
  # The file of data.name="npz" (x_train, y_train, x_test, y_test), or the folder of data.name="image_folder".
  c.data.path = config_dict.placeholder(str)
  # data.name="image_folder" only (dvae_jax/data/image_folder.py): decoding (part of the cache key) ...
  c.data.image_size = 64  # images are resized to image_size x image_size
  c.data.center_crop = False  # crop the central square first; False stretches non-square images
  c.data.image_channels = 3  # 3: RGB; 1: grayscale, stored as one channel
  c.data.resize_filter = "lanczos"  # or "area" (box averaging)
  # ... and the split: a shuffle seeded by split_seed (not by `seed`, so every training seed sees the same test set).
  c.data.test_fraction = 0.2
  c.data.split_seed = 0
  c.data.cache_dir = config_dict.placeholder(str)  # None: <data dir>/image_folder_cache

  c.model = ml_collections.ConfigDict(_overridable(models.default_model_config(family, network)))

  c.optim = ml_collections.ConfigDict()
  c.optim.learning_rate = 0.01
  # "staircase": x decay_rate every decay_epochs epochs; "exponential": the same decay, smoothly
  # (x decay_rate ** (epoch / decay_epochs)); both never go below min_learning_rate.
  # "constant": learning_rate throughout (decay_epochs, decay_rate and min_learning_rate unused).
  c.optim.schedule = "staircase"
  c.optim.decay_epochs = 50
  c.optim.decay_rate = 0.1  # in (0, 1): a rate of 1 would not decay; use schedule "constant"
  c.optim.min_learning_rate = 1e-5  # a floor, at most learning_rate
  c.optim.clip_value = 5.0  # clip each gradient entry to [-clip, clip]; 0 disables
  c.optim.b1 = 0.9
  c.optim.b2 = 0.999
  c.optim.eps = 1e-8
  c.optim.batch_reduction = "sum"  # the reference optimizes the batch sum; "mean" also allowed
  # A family with a discriminator (vae_gan) trains it with its own Adam from this rate (None: learning_rate).
  c.optim.discriminator_learning_rate = config_dict.placeholder(float)

  c.train = ml_collections.ConfigDict()
  c.train.batch_size = 64
  c.train.eval_batch_size = 256
  c.train.num_epochs = 250
  c.train.steps_per_dispatch = 1  # steps per jitted call (lax.scan); same math, see train.py
  c.train.log_every_steps = 100
  c.train.checkpoint_every_steps = 500  # also at every epoch end
  c.train.max_checkpoints = 3
  c.train.progress_bar = True
  c.train.grid_images = 32  # images in the reconstruction grid
  # A jax.profiler trace of `profile_steps` steps from `profile_start_step` on (after compilation
  # and warm-up), written to <workdir>/profile (TensorBoard's profile plugin or ui.perfetto.dev).
  c.train.profile_steps = 0  # 0: no trace
  c.train.profile_start_step = 10

  c.eval = ml_collections.ConfigDict()
  c.eval.iw_samples = 5000  # importance samples for the test NLL (dvae evaluate); 0 skips it
  c.eval.iw_chunk_size = 100  # samples drawn at once per image: memory ~ chunk x batch decodes
  c.eval.iw_batch_size = 64
  c.eval.iw_limit = config_dict.placeholder(int)  # estimate on the first N examples only
  # Before evaluating (dvae evaluate), recompute batch norm's running statistics with the final
  # parameters on this many training batches (train.recompute_batch_norm_statistics): for short
  # runs, whose running averages lag behind; 0 uses the running averages as trained (the reference).
  c.eval.recompute_batch_norm = 0
  return c


def _overridable(section: dict[str, Any]) -> dict[str, Any]:
  """`section` with its None values (optional fields, e.g. model.network.code_activation) made
  placeholders, which the command line can set: ml_collections cannot override a None field."""
  return {
    key: _overridable(value) if isinstance(value, dict) else config_dict.placeholder(object) if value is None else value
    for key, value in section.items()
  }


def cifar10_reference(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The reference's CIFAR-10 data, network and schedule (REFERENCE.md section 1)."""
  config.data.name = "cifar10"
  config.data.invert = False
  config.model.network.conv_channels = (128, 64)
  config.model.network.fc_sizes = (512, 256)
  if "latent_dim" in config.model:  # not the classifier's
    config.model.latent_dim = 100
  config.optim.learning_rate = 0.001
  config.optim.decay_epochs = 200
  config.train.num_epochs = 500
  return config


def classifier_reference(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The reference's separate evaluation CNN (REFERENCE.md section 1); the schedule is per dataset.

  `config` must come from `base_config("classifier")`.
  """
  config.model.network.conv_channels = (128, 64, 32)
  config.model.network.fc_sizes = (1024, 512, 512)
  config.optim.learning_rate = 0.01
  return config


def constant_adam(
  config: ml_collections.ConfigDict, *, learning_rate: float, batch_size: int
) -> ml_collections.ConfigDict:
  """Adam at a constant `learning_rate` on the per-image mean over batches of `batch_size`, no
  gradient clipping: the textbook setting the non-reference experiments share."""
  config.optim.schedule = "constant"
  config.optim.learning_rate = learning_rate
  config.optim.clip_value = 0.0
  config.optim.batch_reduction = "mean"
  config.train.batch_size = batch_size
  return config


def plain_mnist(
  config: ml_collections.ConfigDict, *, batch_size: int, num_epochs: int, likelihood: str
) -> ml_collections.ConfigDict:
  """The autoencoder seeds' setting (REFERENCE.md section 3; seeds 001 and 004): MNIST in [0, 1] as
  read (not inverted, not binarized), validation from the start of the training file, Glorot-uniform
  weights (the TF / Keras default), Adam at a constant 1e-3 on the per-image mean over the batch
  (Keras averages its loss over the batch), no L2 and no gradient clipping; the seed's batch size,
  epochs and loss (`likelihood`: "bernoulli" for a cross-entropy, "gaussian" for an MSE)."""
  config.model.likelihood = likelihood
  config.data.invert = False
  config.data.binarize = "none"
  config.data.validation_split = "first"
  config.model.weight_decay = 0.0
  config.model.network.kernel_init = "xavier_uniform"
  constant_adam(config, learning_rate=1e-3, batch_size=batch_size)
  config.train.num_epochs = num_epochs
  return config


def plain_vae(config: ml_collections.ConfigDict, *, batch_size: int) -> ml_collections.ConfigDict:
  """The textbook VAE setting shared by the flax-example and seed 001/002 VAEs: MNIST not inverted,
  one posterior draw (the ELBO), no label head, no L2, Adam 1e-3 at a constant rate on the per-image
  mean over the batch, no gradient clipping; test NLL with k = 1000 importance samples.

  `config` must come from `base_config("vae", network)`.
  """
  config.data.invert = False
  model = config.model
  model.weight_decay = 0.0
  model.l2_scheme = "single"
  model.samples = 1
  for key, value in (("label_head", False), ("sample_mode", "elbo")):
    if key in model:  # not keys of a family that fixes them (vae_gan)
      model[key] = value
  constant_adam(config, learning_rate=1e-3, batch_size=batch_size)
  config.train.log_every_steps = 100
  config.train.checkpoint_every_steps = 1000
  config.eval.iw_samples = 1000
  config.eval.iw_batch_size = 200
  return config


def im_et_al_binarized_mnist(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Im et al.'s setting (REFERENCE.md section 2), shared by the denoising VAE and the VAE it is
  compared with: dynamically binarized MNIST (not inverted), a fully connected network with batch
  norm and LeakyReLU, z = 128, K = 10 posterior draws, Adam 1e-4 on the per-image mean over batches
  of 100, weight decay 5e-5, 200 epochs (the authors' re-implementation). Its network differs in
  details the `mlp` network does not have: LeakyReLU slope 0.2 (here 0.01), a tanh on the decoder's
  last hidden layer, batch norm with a trainable scale and offset.

  `config` must come from `base_config(family, "mlp")` for a latent-variable family.
  """
  config.data.invert = False
  config.data.binarize = "dynamic"
  network = config.model.network
  network.fc_sizes = (512, 512)
  network.activation = "leaky_relu"
  network.batch_norm = True
  network.bn_momentum = 0.9  # PyTorch's default (its momentum 0.1); settles within a short run
  config.model.latent_dim = 128
  config.model.samples = 10
  config.model.weight_decay = 5e-5
  config.model.l2_scheme = "single"  # plain weight decay
  constant_adam(config, learning_rate=1e-4, batch_size=100)
  config.train.eval_batch_size = 200
  config.train.num_epochs = 200
  config.train.checkpoint_every_steps = 2000
  config.eval.iw_batch_size = 100
  return config


def seed003_mnist(config: ml_collections.ConfigDict, *, pixel_loss: str) -> ml_collections.ConfigDict:
  """Seed 003's MNIST setting (REFERENCE.md section 5): a dense VAE with 5 latents and 3 hidden
  layers of 400 (ReLU, Xavier init) on MNIST in [0, 1] (not inverted), one posterior draw, no label
  head and no L2, Adam 1e-3 at a constant rate on the per-image mean over batches of 64, 50 epochs.
  `pixel_loss`: "bce" (a Bernoulli likelihood) or "l2" (the sum of squared errors: a Gaussian
  likelihood of variance 1/2, whose -log p is that sum plus a constant).

  `config` must come from `base_config(family, "mlp")` for the vae or vae_gan family.
  """
  if pixel_loss not in ("bce", "l2"):
    raise ConfigError(f"pixel loss {pixel_loss!r}: expected 'bce' or 'l2'.")
  plain_vae(config, batch_size=64)
  network = config.model.network
  network.fc_sizes = (400, 400, 400)
  network.activation = "relu"
  network.kernel_init = "xavier_normal"
  config.model.latent_dim = 5
  if pixel_loss == "l2":
    config.model.likelihood = "gaussian"
    config.model.gaussian_log_std = -0.5 * math.log(2.0)
  config.train.num_epochs = 50
  config.train.checkpoint_every_steps = 1000
  return config


def seed003_faces(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Seed 003's face setting (REFERENCE.md section 5): an image folder (`data.path`) resized to
  64 x 64 RGB and split 80/20 by a seeded shuffle, one posterior draw, no label head and no L2,
  Xavier init, BCE pixel loss, Adam 1e-3 on the per-image mean over batches of 64, 200 epochs.

  `config` must come from `base_config(family, "seed003_conv")` for the vae or vae_gan family.
  """
  config.data.name = "image_folder"
  config.data.invert = False
  config.data.image_size = 64
  config.data.test_fraction = 0.2
  plain_vae(config, batch_size=64)
  config.model.latent_dim = 512
  config.model.network.kernel_init = "xavier_normal"
  config.train.num_epochs = 200
  config.train.checkpoint_every_steps = 1000
  config.eval.iw_samples = 0  # a likelihood of continuous colour images in nats says little here
  return config


def network_section(name: str) -> ml_collections.ConfigDict:
  """The config section of network `name` with its defaults (to swap a network or discriminator)."""
  return ml_collections.ConfigDict(_overridable(hparams.to_dict(ARCHITECTURES.get_named(name).config())))


def split_variants(variant: str | None, own: Sequence[str]) -> tuple[list[str], str | None]:
  """An experiment's comma-separated variant: (its own variant names in `own`, at most one generic
  variant of VARIANTS, or None). Anything else is a ConfigError listing what is valid."""
  names = [name for name in (variant or "").split(",") if name]
  generic = [name for name in names if name not in own]
  if len(generic) > 1 or any(name not in VARIANTS for name in generic):
    raise ConfigError(
      f"config variant {variant!r}: expected names from {list(own)} and at most one of {list(VARIANTS)}, "
      "comma-separated."
    )
  return [name for name in names if name in own], (generic[0] if generic else None)


VARIANTS = ("smoke", "cpu")


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
    raise ConfigError(f"unknown config variant {variant!r}; valid variants: {list(VARIANTS)} (or none).")
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
  config.model.network.update(ARCHITECTURES[config.model.network.name].config.SMOKE)
  if "discriminator" in config.model:
    config.model.discriminator.update(ARCHITECTURES[config.model.discriminator.name].config.SMOKE)
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


def _choice(path: str, value, allowed) -> None:
  if value not in allowed:
    raise ConfigError(f"config.{path}={value!r} is not valid; expected one of {sorted(allowed)}.")


def _positive(path: str, value, *, allow_zero: bool = False) -> None:
  if value is None or value < 0 or (value == 0 and not allow_zero):
    raise ConfigError(
      f"config.{path}={value!r} is not valid; expected a {'non-negative' if allow_zero else 'positive'} number."
    )


def _in_range(path: str, value, low: float, high: float, *, low_open: bool = False, high_open: bool = True) -> None:
  too_low = value <= low if low_open else value < low
  too_high = value >= high if high_open else value > high
  if too_low or too_high:
    interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    raise ConfigError(f"config.{path}={value!r} is not valid; expected a value in {interval}.")


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError naming the first bad value and what was expected."""
  _choice("data.name", config.data.name, DATASETS)
  _choice("data.source", config.data.source, ("raw", "tfds"))
  _choice("data.binarize", config.data.binarize, BINARIZE)
  _choice("data.validation_split", config.data.validation_split, VALIDATION_SPLITS)
  _in_range("data.validation_fraction", config.data.validation_fraction, 0.0, 1.0, low_open=True)
  _positive("optim.learning_rate", config.optim.learning_rate)
  _positive("train.num_epochs", config.train.num_epochs)
  _check_schedule(config.optim)
  if (config.data.name in PATH_DATASETS) != (config.data.path is not None):
    raise ConfigError(
      f"config.data.path={config.data.path!r} with config.data.name={config.data.name!r}: expected a path to an "
      ".npz file exactly when data.name is 'npz', or to a folder of images when it is 'image_folder' (and no path "
      "for any other dataset)."
    )
  _check_image_folder(config.data)
  for path, value in (
    ("data.train_limit", config.data.train_limit),
    ("data.eval_limit", config.data.eval_limit),
    ("eval.iw_limit", config.eval.iw_limit),
    ("num_devices", config.num_devices),
    ("optim.discriminator_learning_rate", config.optim.discriminator_learning_rate),
  ):
    if value is not None:
      _positive(path, value)
  models.model_config(config.model)  # the family's and network's own checks
  _choice("optim.batch_reduction", config.optim.batch_reduction, ("sum", "mean"))

  def get(path: str):
    section, key = path.split(".")
    return config[section][key]

  for path in (
    "train.batch_size",
    "train.eval_batch_size",
    "train.steps_per_dispatch",
    "train.log_every_steps",
    "train.checkpoint_every_steps",
    "train.max_checkpoints",
    "eval.iw_chunk_size",
    "eval.iw_batch_size",
    "optim.learning_rate",
    "optim.decay_epochs",
  ):
    _positive(path, get(path))
  for path in (
    "optim.clip_value",
    "optim.min_learning_rate",
    "train.grid_images",
    "train.profile_steps",
    "train.profile_start_step",
    "eval.iw_samples",
    "eval.recompute_batch_norm",
  ):
    _positive(path, get(path), allow_zero=True)


def _check_image_folder(data: ml_collections.ConfigDict) -> None:
  """The image_folder keys are checked whatever the dataset, so a bad default never waits for its first use."""
  if isinstance(data.image_size, bool) or not isinstance(data.image_size, int) or data.image_size < 1:
    raise ConfigError(f"config.data.image_size={data.image_size!r} is not valid; expected a positive integer (pixels).")
  if not isinstance(data.center_crop, bool):
    raise ConfigError(f"config.data.center_crop={data.center_crop!r} is not valid; expected True or False.")
  _choice("data.image_channels", data.image_channels, CHANNELS)
  _choice("data.resize_filter", data.resize_filter, RESIZE_FILTERS)
  _in_range("data.test_fraction", data.test_fraction, 0.0, 1.0, low_open=True)
  _positive("data.split_seed", data.split_seed, allow_zero=True)
  if data.name == "image_folder" and data.invert:
    raise ConfigError(
      "config.data.invert=True with config.data.name='image_folder': expected False. Inversion (1 - pixel) is the "
      "reference's MNIST convention (white digits on black become black on white), not a property of arbitrary "
      "images; pass --config.data.invert=False."
    )


def _check_schedule(optim: ml_collections.ConfigDict) -> None:
  """A decaying schedule must decay, and its floor must stay a floor."""
  _choice("optim.schedule", optim.schedule, SCHEDULES)
  if optim.schedule == "constant":
    return
  if optim.decay_rate == 1.0:
    raise ConfigError(
      f"config.optim.decay_rate=1.0 does not decay, but config.optim.schedule={optim.schedule!r} is a decaying "
      "schedule; for a constant learning rate set --config.optim.schedule=constant."
    )
  _in_range("optim.decay_rate", optim.decay_rate, 0.0, 1.0, low_open=True)
  if optim.min_learning_rate > optim.learning_rate:
    raise ConfigError(
      f"config.optim.min_learning_rate={optim.min_learning_rate!r} is above config.optim.learning_rate="
      f"{optim.learning_rate!r}; expected a floor at most the initial learning rate."
    )
