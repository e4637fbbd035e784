"""One writer per workdir: a second training on a workdir in use is refused with one paragraph
naming the holder (an evaluation only reads, and is not: tests/test_checkpoint.py); a lock left by
a killed process is taken over; a finished run leaves the workdir free."""

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from dvae_jax import main, workdir_lock
from dvae_jax.errors import WorkdirError
from tests.helpers import REPO

HOLD = """
import sys, time
from dvae_jax.workdir_lock import WorkdirLock
lock = WorkdirLock(sys.argv[1], "training")
lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path):
  """A real second process holding tmp_path/run's lock until it is killed."""
  workdir = tmp_path / "run"
  workdir.mkdir()
  env = {**os.environ, "PYTHONPATH": str(REPO)}
  proc = subprocess.Popen([sys.executable, "-c", HOLD, str(workdir)], stdout=subprocess.PIPE, text=True, env=env)
  assert proc.stdout.readline().strip() == "held"
  yield workdir, proc
  proc.kill()
  proc.wait()


def test_a_second_training_is_refused_naming_the_holder(holder, shared_data, monkeypatch, capsys):
  workdir, proc = holder
  monkeypatch.setenv("DVAE_DATA_DIR", str(shared_data))
  monkeypatch.chdir(REPO)
  status = main.invoke("train", "--config", "mnist_vae:smoke", "--workdir", str(workdir))
  error = capsys.readouterr().err
  assert status == 1
  assert f"is in use: training by pid {proc.pid} on host {socket.gethostname()}, started " in error
  assert "Nothing was changed." in error and "Traceback" not in error
  assert sorted(p.name for p in workdir.iterdir()) == [".lock"]  # no config, metrics or checkpoint written
  status = main.invoke("evaluate", "--workdir", str(workdir))  # a reader takes no lock: nothing to read yet
  assert status == 1 and "config.json not found" in capsys.readouterr().err


def test_a_killed_holders_lock_is_taken_over(holder):
  workdir, proc = holder
  with pytest.raises(WorkdirError, match=f"pid {proc.pid}"):
    workdir_lock.WorkdirLock(workdir, "training").acquire()
  assert workdir_lock.is_held(workdir)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  assert not workdir_lock.is_held(workdir)
  lock = workdir_lock.WorkdirLock(workdir, "evaluation")
  lock.acquire()  # the kernel dropped the dead process's flock
  record = json.loads((workdir / ".lock").read_text())
  assert record["pid"] == os.getpid() and record["purpose"] == "evaluation"
  lock.release()
  assert (workdir / ".lock").read_text() == ""  # released: no stale record names a finished run


def test_a_finished_training_leaves_the_workdir_free(tiny_config, tmp_path):
  from dvae_jax import train

  train.train_and_evaluate(tiny_config(family="vae"), tmp_path)
  with workdir_lock.WorkdirLock(tmp_path, "training"):
    pass
