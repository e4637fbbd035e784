"""`validate(config)`: every value of a config checked before any work, with an error that names
the key, the value and what was expected.

The checks are the ones the model's dataclasses use (`dvae_jax.models.hparams.check_*`), applied
to config sections; the `model` section is checked by building it (`models.model_config`). A key
the defaults do not have is an error too, for a config that was not locked against it (an
ml_collections ConfigDict built by hand).
"""

from collections.abc import Callable
from typing import Any

import ml_collections

from dvae_jax import models
from dvae_jax.configs.base import base_config
from dvae_jax.configs.locking import check_known_keys
from dvae_jax.data.common import LAYOUTS
from dvae_jax.data.image_folder import CHANNELS, RESIZE_FILTERS
from dvae_jax.data.pipeline import BINARIZE, VALIDATION_SPLITS
from dvae_jax.data.sources import DATASETS, PATH_DATASETS
from dvae_jax.errors import ConfigError
from dvae_jax.models.hparams import FieldError, check_choice, check_positive, check_range

SCHEDULES = ("constant", "staircase", "exponential")

# Keys that must be positive, and keys that may also be zero.
POSITIVE = (
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
)
NON_NEGATIVE = (
  "optim.clip_value",
  "optim.min_learning_rate",
  "train.grid_images",
  "train.profile_steps",
  "train.profile_start_step",
  "eval.iw_samples",
  "eval.recompute_batch_norm",
)
# Optional keys (None: not set) that must be positive when set.
OPTIONAL_POSITIVE = (
  "data.train_limit",
  "data.eval_limit",
  "eval.iw_limit",
  "num_devices",
  "optim.discriminator_learning_rate",
)


def _check(config: ml_collections.ConfigDict, path: str, check: Callable[..., None], *args: Any, **kwargs: Any) -> None:
  """Runs an `hparams.check_*` on the key at dotted `path`, as a ConfigError naming it."""
  *sections, key = path.split(".")
  section = config
  for name in sections:
    section = section[name]
  try:
    check(section, key, *args, **kwargs)
  except FieldError as e:
    raise ConfigError(f"config.{path}={section[key]!r} is not valid; {e.expected}.") from None


def _value(config: ml_collections.ConfigDict, path: str) -> Any:
  section, key = path.split(".") if "." in path else (None, path)
  return config[key] if section is None else config[section][key]


def validate(config: ml_collections.ConfigDict) -> None:
  """Raises ConfigError naming the first unknown key or bad value and what was expected."""
  check_known_keys(config, base_config())  # every section but `model`, which its dataclasses check
  _check(config, "data.name", check_choice, DATASETS)
  _check(config, "data.source", check_choice, ("raw", "tfds"))
  _check(config, "data.binarize", check_choice, BINARIZE)
  _check(config, "data.validation_split", check_choice, VALIDATION_SPLITS)
  _check(config, "data.validation_fraction", check_range, 0.0, 1.0, low_open=False)
  if config.data.validation_split == "test" and config.data.validation_fraction:
    raise ConfigError(
      f"config.data.validation_fraction={config.data.validation_fraction!r} with config.data.validation_split='test': "
      "expected 0. The test split validates, so nothing is carved out of the training file; pass "
      "--config.data.validation_fraction=0."
    )
  if not isinstance(config.data.train_on_test, bool):
    raise ConfigError(f"config.data.train_on_test={config.data.train_on_test!r} is not valid; expected True or False.")
  _check(config, "optim.learning_rate", check_positive)
  _check(config, "train.num_epochs", check_positive)
  _check_schedule(config)
  if (config.data.name in PATH_DATASETS) != (config.data.path is not None):
    raise ConfigError(
      f"config.data.path={config.data.path!r} with config.data.name={config.data.name!r}: expected a path to an "
      ".npz file exactly when data.name is 'npz', or to a folder of images when it is 'image_folder' (and no path "
      "for any other dataset)."
    )
  _check_image_folder(config)
  on_device = config.data.on_device
  if not (isinstance(on_device, bool) or on_device == "auto"):
    raise ConfigError(
      f"config.data.on_device={on_device!r} is not valid; expected 'auto' (the training split on the devices when "
      "it takes at most a quarter of a device's memory), True (on the devices) or False (batches gathered on the "
      "host)."
    )
  for path in OPTIONAL_POSITIVE:
    if _value(config, path) is not None:
      _check(config, path, check_positive)
  models.model_config(config.model)  # the family's and network's own checks
  if config.init_workdir is not None and models.get_family(config.model.family).initialize is None:
    raise ConfigError(
      f"config.init_workdir={config.init_workdir!r}: the {config.model.family!r} family does not start from another "
      f"run; expected None, or a family that does ({sorted(n for n, f in models.FAMILIES.items() if f.initialize)})."
    )
  _check(config, "optim.batch_reduction", check_choice, ("sum", "mean"))
  for path in POSITIVE:
    _check(config, path, check_positive)
  for path in NON_NEGATIVE:
    _check(config, path, check_positive, allow_zero=True)


def _check_image_folder(config: ml_collections.ConfigDict) -> None:
  """The image_folder keys are checked whatever the dataset, so a bad default never waits for its first use."""
  data = config.data
  if isinstance(data.image_size, bool) or not isinstance(data.image_size, int) or data.image_size < 1:
    raise ConfigError(f"config.data.image_size={data.image_size!r} is not valid; expected a positive integer (pixels).")
  if not isinstance(data.center_crop, bool):
    raise ConfigError(f"config.data.center_crop={data.center_crop!r} is not valid; expected True or False.")
  _check(config, "data.image_channels", check_choice, CHANNELS)
  _check(config, "data.resize_filter", check_choice, RESIZE_FILTERS)
  _check(config, "data.test_fraction", check_range, 0.0, 1.0, low_open=True)
  _check(config, "data.split_seed", check_positive, allow_zero=True)
  _check(config, "data.layout", check_choice, LAYOUTS)
  if data.layout != "hwc" and (data.name != "image_folder" or data.grayscale):
    raise ConfigError(
      f"config.data.layout={data.layout!r} with config.data.name={data.name!r} and config.data.grayscale="
      f"{data.grayscale!r}: expected data.name='image_folder' without grayscale. The layout is the image-folder "
      "loader's (xuganyu96/VAE-GAN-learnable-loss's face images), and a scrambled image has no colour channels to "
      "turn grey; pass --config.data.layout=hwc."
    )
  if data.name == "image_folder" and data.invert:
    raise ConfigError(
      "config.data.invert=True with config.data.name='image_folder': expected False. Inversion (1 - pixel) is the "
      "MNIST convention of dojoteef/dvae (white digits on black become black on white), not a property of "
      "arbitrary images; pass --config.data.invert=False."
    )


def _check_schedule(config: ml_collections.ConfigDict) -> None:
  """A decaying schedule must decay, and its floor must stay a floor."""
  optim = config.optim
  _check(config, "optim.schedule", check_choice, SCHEDULES)
  if optim.schedule == "constant":
    return
  if optim.decay_rate == 1.0:
    raise ConfigError(
      f"config.optim.decay_rate=1.0 does not decay, but config.optim.schedule={optim.schedule!r} is a decaying "
      "schedule; for a constant learning rate set --config.optim.schedule=constant."
    )
  _check(config, "optim.decay_rate", check_range, 0.0, 1.0, low_open=True)
  if optim.min_learning_rate > optim.learning_rate:
    raise ConfigError(
      f"config.optim.min_learning_rate={optim.min_learning_rate!r} is above config.optim.learning_rate="
      f"{optim.learning_rate!r}; expected a floor at most the initial learning rate."
    )
