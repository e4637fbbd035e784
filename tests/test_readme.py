"""README.md's promises: its "From Python" example runs verbatim, it stays short, and every
command it names exists."""

import os
import re
import subprocess
import sys

from tests.helpers import REPO

README = (REPO / "README.md").read_text()
MAX_README_LINES = 250


def python_example() -> str:
  marker = "runs this block verbatim"
  block = README.split(marker, 1)[1]
  return block.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_from_python_example_runs_verbatim(shared_data, tmp_path):
  """In a fresh interpreter in an empty directory, as a newcomer would paste it."""
  env = {**os.environ, "DVAE_DATA_DIR": str(shared_data), "PYTHONPATH": str(REPO)}
  done = subprocess.run(
    [sys.executable, "-c", python_example()], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
  )
  assert done.returncode == 0, done.stderr[-3000:]
  assert re.search(r"^validation -ELBO \d+\.\d nats$", done.stdout, re.M), done.stdout
  assert re.search(r"^test -ELBO \d+\.\d, IW NLL \d+\.\d nats$", done.stdout, re.M), done.stdout
  assert (tmp_path / "runs" / "from_python" / "eval_test.json").exists()


def test_the_readme_is_short():
  assert len(README.splitlines()) <= MAX_README_LINES


def test_the_readme_names_only_files_that_exist():
  """Every relative link and every experiments/ or scripts/ path in the README exists."""
  links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README)
  paths = re.findall(r"\b((?:experiments|scripts)/[\w./*-]+\.(?:py|sh))", README)
  missing = [p for p in [*links, *paths] if "*" not in p and not (REPO / p).exists()]
  assert not missing
