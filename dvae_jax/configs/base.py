"""The base config every experiment starts from: the reference MNIST VAE's settings for a family.

Experiment files (`experiments/*.py`) define `get_config(variant)`, start from
`base_config(family, network)` and change what differs (often through `presets`). The `model`
section is the chosen family's own hyperparameters and nothing else (its dataclass in
`dvae_jax/models/`, where each key is documented), with the chosen network's under
`model.network`: a key the family or network does not read is an error, not silently ignored.

The config is a `locking.StrictConfigDict`, unlocked while an experiment file builds on it (switching
a registry choice such as `model.corruption` adds that choice's keys); `load_experiment`, the command
line and `load_config` lock it, after which setting a key it does not have is an error naming the
key, its section and the nearest valid keys.
"""

from typing import Any

from ml_collections import config_dict

from dvae_jax import models
from dvae_jax.configs.locking import StrictConfigDict, strict
from dvae_jax.models import ARCHITECTURES, hparams


def base_config(family: str = "vae", network: str | None = None) -> StrictConfigDict:
  """Defaults: the reference MNIST VAE (dojoteef/dvae) for `family`; experiments override what differs.

  `model` holds `family`'s hyperparameters with their defaults, on `network` (the family's
  default network if None). Unlocked: `load_experiment` and the command line lock it.
  """
  c = StrictConfigDict()
  c.seed = 0
  # The published results this experiment reproduces (dvae_jax/published.py), which `dvae evaluate`
  # prints beside the run's own; None for an experiment with none.
  c.published = config_dict.placeholder(str)
  c.num_devices = config_dict.placeholder(int)  # None: all visible devices
  # A finished run that a fresh run of this one starts from, as its family defines (models/family.py,
  # Family.initialize; VaDE: a pretrained autoencoder and a GMM fit of its codes); None: random init.
  c.init_workdir = config_dict.placeholder(str)

  c.data = StrictConfigDict()
  c.data.name = "mnist"
  c.data.dir = config_dict.placeholder(str)  # None: $DVAE_DATA_DIR, else ~/.cache/dvae_jax/data
  c.data.source = "raw"  # "raw" files or "tfds"
  c.data.download = True  # fetch missing MNIST / Fashion-MNIST files on first use
  c.data.grayscale = False
  c.data.invert = True  # the reference uses 1 - pixel / 255 for MNIST
  c.data.binarize = "none"
  c.data.validation_fraction = 0.1
  c.data.validation_split = "first"  # the reference: the first 10%, unshuffled; "test": the test split
  # Train on the test file's images too (labels unused): the clustering literature's protocol (DEC,
  # VaDE: all 70,000 MNIST images); the test split is still the test file, for evaluation.
  c.data.train_on_test = False
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
  # Where the training split lives (docs/performance.md): True keeps it on every device and each step
  # gathers its rows inside the jitted step; False gathers every batch on the host and transfers it;
  # "auto" keeps it on the devices when it takes at most a quarter of a device's memory. The batches,
  # and so the results, are the same either way.
  c.data.on_device = config_dict.FieldReference("auto", field_type=object)
  # ... and the layout the network is fed (dvae_jax/data/common.py): "hwc", the true images; "reshaped_chw", the
  # scrambled one xuganyu96/VAE-GAN-learnable-loss fed its face networks (reshaped, not transposed, to C x H x W).
  c.data.layout = "hwc"

  c.model = StrictConfigDict(_overridable(models.default_model_config(family, network)))

  c.optim = StrictConfigDict()
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

  c.train = StrictConfigDict()
  c.train.batch_size = 64
  c.train.eval_batch_size = 256
  c.train.num_epochs = 250
  c.train.steps_per_dispatch = 1  # steps per jitted call (lax.scan); same math, see experiment.py
  c.train.log_every_steps = 100
  c.train.checkpoint_every_steps = 500  # also at every epoch end
  c.train.max_checkpoints = 3
  c.train.progress_bar = True
  c.train.grid_images = 32  # images in the reconstruction grid
  # A jax.profiler trace of `profile_steps` steps from `profile_start_step` on (after compilation
  # and warm-up), written to <workdir>/profile (TensorBoard's profile plugin or ui.perfetto.dev).
  c.train.profile_steps = 0  # 0: no trace
  c.train.profile_start_step = 10

  c.eval = StrictConfigDict()
  c.eval.iw_samples = 5000  # importance samples for the test NLL (dvae evaluate); 0 skips it
  c.eval.iw_chunk_size = 100  # samples drawn at once per image: memory ~ chunk x batch decodes
  c.eval.iw_batch_size = 64
  c.eval.iw_limit = config_dict.placeholder(int)  # estimate on the first N examples only
  # Before evaluating (dvae evaluate), recompute batch norm's running statistics with the final
  # parameters on this many training batches (batch_norm.recompute_batch_norm_statistics): for short
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


def network_section(name: str) -> StrictConfigDict:
  """The config section of network `name` with its defaults (to swap a network or discriminator); it
  is locked once assigned into a locked config."""
  return strict(_overridable(hparams.to_dict(ARCHITECTURES.get_named(name).config())), "network")
