"""study/launchers.py: local processes pass a SIGTERM on to their runs and wait for them to checkpoint."""

import signal
import subprocess
import sys
import time

from dvae_jax.study import Group, Study, runner
from tests.helpers import REPO, planned_runs


def test_local_processes_pass_a_sigterm_on_and_wait_for_the_runs_to_checkpoint(tmp_path):
  """A SIGTERM to the launcher alone (a scheduler's, or `kill`) reaches its runs only through it. Stand-ins for
  `dvae train`: one checkpoints (exit 75, as `dvae train` on SIGTERM), one is killed before it can."""
  code = "import signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(75)); print(1, flush=True); "
  trains = subprocess.Popen([sys.executable, "-c", code + "time.sleep(60)"], stdout=subprocess.PIPE)
  starts = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
  assert trains.stdout.readline() == b"1\n"  # its handler is installed
  first, second = planned_runs(Study("s", {"a": Group("x")}, seeds=(0, 1)), tmp_path)
  handles = [
    {"planned": first, "step": "train", "process": trains},
    {"planned": second, "step": "train", "process": starts},
  ]
  start = time.monotonic()
  assert runner.LocalProcesses(2, cwd=str(REPO)).stop(handles, terminate=True) == (
    "a seed 0 stopped training with a checkpoint of the step it reached; "
    "a seed 1 stopped in its train step (killed by SIGTERM), before it could checkpoint"
  )
  assert (trains.returncode, starts.returncode) == (75, -signal.SIGTERM) and time.monotonic() - start < 30
