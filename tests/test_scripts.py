"""scripts/: every script takes --help, the benchmark says how to get its PyTorch twin, and the scripts are
tools: no second pipeline of shell loops over runs, no script importing another."""

import subprocess
import sys

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
