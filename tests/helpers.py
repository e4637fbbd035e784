"""What several test modules share (constants and small helpers); fixtures live in conftest.py."""

import contextlib
import json
import os
import pathlib
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

from dvae_jax.checkpoint import Checkpointer
from dvae_jax.configs import load_experiment
from dvae_jax.data import Split, Splits
from dvae_jax.experiment import build_experiment
from dvae_jax.local_processes import xla_flags_with_cpu_devices
from dvae_jax.models import ARCHITECTURES, default_model_config, get_family, model_config

REPO = pathlib.Path(__file__).resolve().parents[1]
# The real MNIST / Fashion-MNIST files: $DVAE_DATA_DIR (as for `dvae`), else ../shared/data.
SHARED_DATA = pathlib.Path(os.environ.get("DVAE_DATA_DIR") or REPO.parent / "shared" / "data")


def point_at_folder(config, folder: pathlib.Path, cache_dir: pathlib.Path):
  """Reads an image-folder experiment's data from `folder`, caching its decoded images in `cache_dir`."""
  config.data.path = str(folder)
  config.data.cache_dir = str(cache_dir)
  return config


def smoke_config(name: str, variant: str, **overrides):
  """Experiment `name` with `variant`, for one epoch on one device without a progress bar, then `overrides`
  (`section__key=value`)."""
  config = load_experiment(name, variant)
  config.train.num_epochs = 1
  config.train.progress_bar = False
  config.num_devices = 1
  for key, value in overrides.items():
    section, field = key.split("__")
    config[section][field] = value
  return config


MNIST = dict(image_shape=(28, 28, 1), num_classes=10)
TINY = dict(image_shape=(2, 2, 1), num_classes=2)
RNGS = {"params": jax.random.key(0), "reparam": jax.random.key(1), "noise": jax.random.key(2)}


def hparams(family: str, network: str | None = None, *, net: dict | None = None, data=None, **model):
  """The typed config of `family` (defaults, then `model` and `net` overrides) for `data`."""
  section = default_model_config(family, network)
  section.update(model)
  section["network"].update(net or {})
  return model_config(section, **(data or MNIST))


def init_model(config, batch: int = 2, *, abstract: bool = True):
  """Model, input and variables; abstract (shape-only, no compute) unless asked otherwise."""
  model = get_family(config.family).module(config)
  x = jnp.zeros((batch, *config.image_shape), jnp.float32)
  init = jax.eval_shape if abstract else (lambda f, *args, **kw: f(*args, **kw))
  return model, x, init(lambda rngs, x: model.init(rngs, x, train=False), RNGS, x)


def final_state(config, workdir: pathlib.Path):
  """The final train state of the run `config` trained in `workdir`, on the host."""
  experiment = build_experiment(config)
  checkpointer = Checkpointer(workdir / "checkpoints")
  state = checkpointer.restore(checkpointer.latest_step(), experiment.init_state())
  checkpointer.close()
  return jax.device_get(state)


def assert_trees_equal(a, b) -> None:
  leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
  assert jax.tree.structure(a) == jax.tree.structure(b)
  for x, y in zip(leaves_a, leaves_b, strict=True):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@contextlib.contextmanager
def study_process_environment(monkeypatch, data_dir: pathlib.Path):
  """What a study's processes see inside the block: the data in `data_dir`, one CPU device as for a user,
  and the tests' compilation cache."""
  with monkeypatch.context() as patch:
    patch.setenv("DVAE_DATA_DIR", str(data_dir))
    patch.setenv("XLA_FLAGS", xla_flags_with_cpu_devices(1))
    patch.setenv("JAX_COMPILATION_CACHE_DIR", str(jax.config.jax_compilation_cache_dir))
    patch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    patch.setenv("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")
    yield


def dvae(*args: str, data_dir: pathlib.Path) -> subprocess.CompletedProcess:
  """`dvae ARGS` in a fresh interpreter on one CPU device, as a user runs it, with its data in `data_dir`."""
  env = {**os.environ, "XLA_FLAGS": xla_flags_with_cpu_devices(1)}  # one CPU device, as for a user
  env["DVAE_DATA_DIR"] = str(data_dir)
  return subprocess.run(
    [sys.executable, "-m", "dvae_jax.main", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
  )


# ---------------------------------------------------------------- the autoencoder family and networks' sizes

AE_RNGS = {"params": jax.random.key(0), "noise": jax.random.key(1), "dropout": jax.random.key(2)}


def ae_config(network: str = "mlp", *, net: dict | None = None, data=MNIST, **model):
  """The typed "ae" config on `network` (defaults, then `model` and `net` overrides)."""
  section = default_model_config("ae", network)
  section.update(model)
  section["network"].update(net or {})
  return model_config(section, **data)


def init_and_apply(config, batch: int = 3, *, abstract: bool = True):
  """(variables, outputs in training mode) of the "ae" model on uniform random images; shapes only
  (no compute) if `abstract`, else computed in one jitted call."""
  model = get_family("ae").module(config)
  x = jax.random.uniform(jax.random.key(3), (batch, *config.image_shape))

  def run(x):
    variables = model.init(AE_RNGS, x, train=False)
    return variables, model.apply(variables, x, train=True, rngs=AE_RNGS)

  return jax.eval_shape(run, x) if abstract else jax.jit(run)(x)


def count(tree) -> int:
  return sum(leaf.size for leaf in jax.tree.leaves(tree))


# ---------------------------------------------------------------- the xuganyu96 networks, counted layer by layer

FACES = (64, 64, 3)


def conv_params(kernel: int, c_in: int, c_out: int, *, bias: bool) -> int:
  return kernel * kernel * c_in * c_out + (c_out if bias else 0)


def dense_params(f_in: int, f_out: int) -> int:
  return f_in * f_out + f_out


def bn_params(channels: int) -> int:
  return 2 * channels  # trainable scale (gamma) and offset (beta)


def bn_stats(channels: int) -> int:
  return 2 * channels  # running mean and variance


def abstract_init(module, *inputs, rngs=None):
  """The variables' shapes, without computing (or allocating) them."""
  rngs = rngs or jax.random.key(0)
  return jax.eval_shape(lambda: module.init(rngs, *inputs, train=False))


def encoder(name: str, **fields):
  return ARCHITECTURES[name].encoder(ARCHITECTURES[name].config(**fields))


# ---------------------------------------------------------------- data the tests read or write

MNIST_FILES = (
  "train-images-idx3-ubyte.gz",
  "train-labels-idx1-ubyte.gz",
  "t10k-images-idx3-ubyte.gz",
  "t10k-labels-idx1-ubyte.gz",
)
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def copy_mnist(dest_root: pathlib.Path) -> pathlib.Path:
  dest = dest_root / "mnist"
  dest.mkdir(parents=True)
  for name in MNIST_FILES:
    shutil.copyfile(SHARED_DATA / "mnist" / name, dest / name)
  return dest


TRAIN_PER_FILE, TEST_IMAGES = 24, 40  # 120 training images: 108 after the first 10% go to validation


def numbered_split(n: int) -> Split:
  return Split(
    np.arange(n, dtype=np.uint8).reshape(n, 1, 1, 1), np.arange(n, dtype=np.int32) % 10, np.arange(n, dtype=np.int32)
  )


def image_splits(n: int, shape: tuple[int, int, int]) -> Splits:
  """Splits of random uint8 images, ids as load_splits numbers them (test ids after the training file's)."""
  rng = np.random.default_rng(0)

  def split(first_id: int) -> Split:
    images = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
    return Split(images, np.arange(n, dtype=np.int32) % 10, np.arange(first_id, first_id + n, dtype=np.int32))

  return Splits(train=split(2 * n), valid=split(0), test=split(3 * n), num_classes=10)


def write_metrics_run(workdir: pathlib.Path, records: list[dict]) -> None:
  """A hand-written finished run: its metrics.jsonl `records` and a small eval_test.json."""
  workdir.mkdir(parents=True)
  (workdir / "eval_test.json").write_text(json.dumps({"split": "test", "step": 10, "kl_nats": 1.0}))
  (workdir / "metrics.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))


def planned_runs(study, root: pathlib.Path, finished=()) -> list:
  """The study's runs under `root` as `dvae study run` plans them (runner.Planned), those named in `finished` done."""
  from dvae_jax.study import runner, spec

  return [
    runner.Planned(i, run, runner.arguments(run), run.name in finished)
    for i, run in enumerate(spec.runs(study, root), start=1)
  ]
