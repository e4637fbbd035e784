"""Test setup: 4 fake CPU devices, the shared real data, tiny configs."""

import functools
import http.server
import os
import pathlib
import threading

# Must precede the first jax import: the multi-device tests need several (fake) CPU devices. The
# tests' tiny configs spend far more time compiling than running, and LLVM at -O0 halves XLA:CPU's
# compile time (measured: test_steps_per_dispatch_computes_the_same_steps 72 s -> 39 s, cold
# cache). The compiled programs (HLO) are the same; benchmarks and real runs use XLA's default.
# Subprocesses the tests start inherit the flag.
os.environ["XLA_FLAGS"] = (
  os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4 --xla_backend_optimization_level=0"
)
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402

from tests.helpers import REPO, SHARED_DATA, TEST_IMAGES, TRAIN_PER_FILE, study_process_environment  # noqa: E402

# Code under test that reads $DVAE_DATA_DIR (experiments, the dvae command) reads the same folder.
os.environ.setdefault("DVAE_DATA_DIR", str(SHARED_DATA))

jax.config.update("jax_threefry_partitionable", True)
# Many tests compile the same programs (the same tiny config trained twice to compare bits, a
# resumed run, an evaluation): a persistent cache, shared by the xdist workers of one checkout,
# compiles each once. A hit runs the same executable, so results are unchanged bit for bit.
jax.config.update("jax_compilation_cache_dir", os.environ.get("DVAE_TEST_JAX_CACHE", str(REPO / ".jax_cache")))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
  if not (SHARED_DATA / "mnist" / "train-images-idx3-ubyte.gz").exists():
    raise FileNotFoundError(
      f"the real MNIST files are expected in {SHARED_DATA}/mnist: set $DVAE_DATA_DIR to the folder that holds "
      "mnist/ and fashion_mnist/ (`dvae data download mnist` fills it), or put them in ../shared/data."
    )
  return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_config(shared_data):
  """A factory for tiny configs on a slice of real MNIST (one device unless told otherwise).

  Overrides are `section__key=value` (any depth: `model__network__conv_channels=(8, 8, 8)`), or a
  top-level key.
  """
  from dvae_jax import configs

  def make(family: str = "dvae", network: str | None = None, **overrides):
    config = configs.apply_variant(configs.base_config(family, network), "smoke")
    config.data.dir = str(shared_data)
    config.data.train_limit = 128
    config.data.eval_limit = 64
    config.train.batch_size = 16
    config.train.eval_batch_size = 32
    config.train.num_epochs = 1
    config.train.progress_bar = False
    config.num_devices = 1
    for path, value in overrides.items():
      *sections, key = path.split("__")
      target = config
      for section in sections:
        target = target[section]
      target[key] = value
    config.lock()
    return config

  return make


@pytest.fixture
def serve():
  """Starts HTTP servers on 127.0.0.1 for directories; yields a URL factory (the fake mirrors)."""
  servers = []

  def start(directory: pathlib.Path) -> str:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    servers.append(server)
    return f"http://127.0.0.1:{server.server_address[1]}/"

  yield start
  for server in servers:
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def face_folder(shared_data, tmp_path_factory) -> pathlib.Path:
  """A folder of 96 real images as 32 x 32 RGB PNGs (MNIST test digits, resized): the stand-in for
  a face folder, which these machines do not have. Configs that read it need a `data.cache_dir`
  outside ../shared (see `image_folder_config`)."""
  from PIL import Image

  from dvae_jax.data import load_split

  data = load_split("mnist", "test", data_dir=str(shared_data), download=False)
  folder = tmp_path_factory.mktemp("faces")
  for i, image in enumerate(data.images[:96]):
    Image.fromarray(image[..., 0]).convert("RGB").resize((32, 32), Image.LANCZOS).save(folder / f"{i:03d}.png")
  return folder


@pytest.fixture(scope="module")
def cifar_data(tmp_path_factory) -> pathlib.Path:
  """A data dir whose cifar10/ holds random images in the official binary layout (label byte, R, G, B planes)."""
  import numpy as np

  rng = np.random.default_rng(0)
  data = tmp_path_factory.mktemp("data")
  directory = data / "cifar10" / "cifar-10-batches-bin"
  directory.mkdir(parents=True)
  files = [(f"data_batch_{i}.bin", TRAIN_PER_FILE) for i in range(1, 6)] + [("test_batch.bin", TEST_IMAGES)]
  for name, count in files:
    labels = rng.integers(0, 10, (count, 1), dtype=np.uint8)
    pixels = rng.integers(0, 256, (count, 3 * 32 * 32), dtype=np.uint8)
    (directory / name).write_bytes(np.concatenate([labels, pixels], axis=1).tobytes())
  return data


@pytest.fixture(scope="module")
def experiment(tiny_config):
  """A tiny VAE's experiment, built once per module (steps, runs and checkpoints from Python)."""
  from dvae_jax.experiment import build_experiment

  return build_experiment(tiny_config(family="vae"))


@pytest.fixture(scope="module")
def tiny_classifier(tiny_config, tmp_path_factory):
  """An untrained tiny classifier as an `inference.Run` (its features' shape and plumbing do not depend on
  training)."""
  from dvae_jax.experiment import build_experiment
  from dvae_jax.inference import Run

  experiment = build_experiment(tiny_config(family="classifier", model__network__conv_channels=(8, 8, 8)))
  return Run(tmp_path_factory.mktemp("classifier"), experiment, experiment.init_state(), 0)


# What makes a test an end-to-end run: it (or a fixture it uses, or a helper of the tests it calls) trains
# through the real loop, or runs the `dvae` command or processes. Such tests are marked `slow`;
# `pytest -m "not slow"` is the quick loop. The calls are matched with the whitespace taken out, so that a
# call written over several lines counts.
END_TO_END_CALLS = (
  "train_and_evaluate(",
  "run_training(",
  "main.invoke(",
  'dvae("train"',
  "run_study(",
  "subprocess.",
  "smoke_fingerprints",
  "check_repro(",
  "process_check(",
  "run_config(",
)


def _is_end_to_end(function, fixture_defs, seen: set) -> bool:
  import inspect
  import re

  try:
    source = inspect.getsource(function)
  except (OSError, TypeError):
    return False
  if any(call in re.sub(r"\s+", "", source) for call in END_TO_END_CALLS):
    return True
  helpers = (getattr(function, "__globals__", {}).get(name) for name in re.findall(r"\b(\w+)\(", source))
  for helper in helpers:  # the tests' own functions it calls (tests.helpers, its module's), not the library's
    if inspect.isfunction(helper) and helper.__module__.startswith("tests") and helper not in seen:
      seen.add(helper)
      if _is_end_to_end(helper, fixture_defs, seen):
        return True
  for name in inspect.signature(function).parameters:
    for definition in fixture_defs.get(name, ()):
      if definition.func not in seen:
        seen.add(definition.func)
        if _is_end_to_end(definition.func, fixture_defs, seen):
          return True
  return False


def pytest_collection_modifyitems(config, items):
  for item in items:
    function = getattr(item, "function", None)
    if function is not None and _is_end_to_end(function, item._fixtureinfo.name2fixturedefs, set()):
      item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module")
def study_environment(shared_data):
  """What a study's processes see: one CPU device as for a user, and the tests' compilation cache."""
  with study_process_environment(pytest.MonkeyPatch(), shared_data):
    yield
