"""scripts/: every script takes --help, the benchmark says how to get its PyTorch twin, and the scripts are
tools: no second pipeline of shell loops over runs, no script importing another."""

import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import REPO


@pytest.mark.parametrize("script", sorted(p.name for p in (REPO / "scripts").iterdir() if p.suffix in (".sh", ".py")))
def test_every_script_takes_help(script):
  command = ["bash", f"scripts/{script}", "--help"] if script.endswith(".sh") else [sys.executable, f"scripts/{script}"]
  command += [] if script.endswith(".sh") else ["--help"]
  result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr
  assert len(result.stdout.strip().splitlines()) >= 2  # what it does and how to call it


def test_benchmark_without_torch_is_one_line_not_a_traceback():
  """The PyTorch twin needs torch: without it the script says how to install it, or to run --no-torch."""
  code = "import runpy, sys; sys.modules['torch'] = None; sys.argv = ['benchmark.py', '--configs', 'mnist_vae']; "
  code += "runpy.run_path('scripts/benchmark.py', run_name='__main__')"
  result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
  assert result.returncode == 2 and "Traceback" not in result.stderr
  assert "the PyTorch twin needs torch" in result.stderr and "--no-torch" in result.stderr


def test_scripts_are_tools_not_a_second_pipeline():
  """A comparison of runs is a study file (experiments/studies/, `dvae study`), not a script that loops over runs."""
  assert not list((REPO / "scripts").glob("*.sh"))


def test_python_scripts_import_no_other_script():
  for script in (REPO / "scripts").glob("*.py"):
    text = script.read_text()
    assert "sys.path" not in text and "from scripts" not in text and "import scripts" not in text, script


def test_original_dense_vae_seeds_reads_mnist_as_the_original_did_and_tabulates_seeds(shared_data):
  """The pieces of scripts/original_dense_vae_seeds.py that need no MXNet: the training images as
  mx.test_utils.get_mnist() gives them (float32 [N, 1, 28, 28] / 255), and the per-seed table."""
  import importlib.util

  spec = importlib.util.spec_from_file_location(
    "original_dense_vae_seeds", REPO / "scripts" / "original_dense_vae_seeds.py"
  )
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  images = module.mnist_train_images(shared_data)
  assert images.shape == (60_000, 1, 28, 28) and images.dtype == "float32"
  assert images.min() == 0.0 and images.max() == 1.0
  np.testing.assert_allclose(images * 255, np.round(images * 255), atol=1e-4)  # bytes / 255
  history = [{"epoch": 1, "training_loss": 44.2309, "kl": 3.6357}, {"epoch": 2, "training_loss": 35.3817, "kl": 6.097}]
  assert module.markdown({0: history}).splitlines()[2] == "| 0 | 44.231 | 3.636 | 35.382 | 6.097 |"
