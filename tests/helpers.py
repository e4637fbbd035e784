"""What several test modules share (constants and small helpers); fixtures live in conftest.py."""

import contextlib
import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

from dvae_jax.checkpoint import Checkpointer
from dvae_jax.experiment import build_experiment
from dvae_jax.local_processes import xla_flags_with_cpu_devices
from dvae_jax.models import default_model_config, get_family, model_config

REPO = pathlib.Path(__file__).resolve().parents[1]
# The real MNIST / Fashion-MNIST files: $DVAE_DATA_DIR (as for `dvae`), else ../shared/data.
SHARED_DATA = pathlib.Path(os.environ.get("DVAE_DATA_DIR") or REPO.parent / "shared" / "data")


def point_at_folder(config, folder: pathlib.Path, cache_dir: pathlib.Path):
  """Reads an image-folder experiment's data from `folder`, caching its decoded images in `cache_dir`."""
  config.data.path = str(folder)
  config.data.cache_dir = str(cache_dir)
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
