"""How a study's runs are started: each run is two `dvae` commands (train, evaluate) in its workdir,
as local processes (`LocalProcesses`) or as Slurm jobs (`SlurmJobs`, submitit); `execute` is what a
job runs. runner.py plans the runs and reports them.
"""

import dataclasses
import functools
import os
import pathlib
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from dvae_jax import configs, workdir_lock
from dvae_jax.preemption import PREEMPTED_EXIT_STATUS
from dvae_jax.study import provenance
from dvae_jax.study.spec import StudyRun

STEPS = ("train", "evaluate")
# A rerun right after a kill finds the killed run's processes still checkpointing (they stop on
# SIGTERM with the launcher); their workdir lock is waited for this long before the run starts anyway.
LOCK_WAIT_SECONDS = 60.0


@dataclasses.dataclass(frozen=True)
class Planned:
  """A run with what it needs: the `dvae` arguments of each step, whether it is already finished (and
  then whether as the study asks), and the checkpoint an unfinished run resumes from."""

  index: int  # 1-based, in the study's order
  run: StudyRun
  arguments: dict[str, list[str]]  # step -> dvae arguments
  finished: bool
  resumed_step: int | None = None  # an unfinished run's latest checkpoint
  # A finished run recorded otherwise than the study asks now: not trained over, not counted as done.
  differs: provenance.Recorded | None = None

  @property
  def done(self) -> bool:
    return self.finished and self.differs is None


@dataclasses.dataclass(frozen=True)
class SlurmOptions:
  """`--launcher slurm`'s resources per job (None: the cluster's default)."""

  partition: str | None = None
  time_minutes: int = 240
  gpus_per_node: int | None = None
  cpus_per_task: int | None = None


@dataclasses.dataclass(frozen=True)
class Outcome:
  """How a run's launch ended: "ok" (trained and evaluated), "failed" or "skipped"."""

  status: str
  seconds: dict[str, float]  # step -> wall seconds, of the steps that ran
  message: str = ""
  step: str = ""  # the step that failed
  exit_status: int | None = None
  log: str = ""  # where to read more (default: the failed step's log in the workdir)


def command_line(step_arguments: list[str]) -> str:
  return shlex.join(["dvae", *step_arguments])


def last_line(log: pathlib.Path) -> str:
  """The line of a step's log that says why it ended: its last error line, else its last line."""
  try:
    with log.open("rb") as f:
      f.seek(max(0, f.seek(0, os.SEEK_END) - 16384))
      tail = f.read().decode(errors="replace")
  except OSError:
    return ""
  lines = [line.strip() for line in tail.replace("\r", "\n").splitlines() if line.strip()]
  errors = [line for line in lines if line.startswith("dvae")]  # "dvae: error: ...", "dvae: Training stopped ..."
  return (errors or lines or [""])[-1]


@functools.cache
def _prctl() -> Callable | None:
  """libc's prctl, looked up in the launcher: a child between fork and exec should not load libraries."""
  if sys.platform != "linux":
    return None
  import ctypes

  return ctypes.CDLL(None, use_errno=True).prctl


def _stop_with_parent(prctl: Callable | None, parent: int) -> Callable[[], None]:
  """What a child runs before exec: SIGTERM (a clean, checkpointed stop) when the launcher dies, even by
  SIGKILL, so that no training goes on unwatched, holding its workdir."""

  def before_exec() -> None:
    if prctl is not None:
      prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
      if os.getppid() != parent:  # the launcher died before the call
        os.kill(os.getpid(), signal.SIGTERM)

  return before_exec


def wait_for_lock(workdir: pathlib.Path, seconds: float = LOCK_WAIT_SECONDS) -> None:
  """Waits up to `seconds` while another process holds the workdir's lock (workdir_lock.py)."""
  deadline = time.monotonic() + seconds
  while workdir_lock.is_held(workdir) and time.monotonic() < deadline:
    time.sleep(0.5)


def start_step(step: str, step_arguments: list[str], workdir: pathlib.Path, cwd: str) -> subprocess.Popen:
  """Starts `python -m dvae_jax.main STEP ...` with its output appended to WORKDIR/STEP.log."""
  workdir.mkdir(parents=True, exist_ok=True)
  if step == "train":
    wait_for_lock(workdir)
  with (workdir / f"{step}.log").open("a") as log:
    log.write(f"$ {command_line(step_arguments)}  # {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    log.flush()
    return subprocess.Popen(
      [sys.executable, "-m", "dvae_jax.main", *step_arguments],
      stdout=log,
      stderr=subprocess.STDOUT,
      stdin=subprocess.DEVNULL,
      cwd=cwd,
      env={**os.environ, "PYTHONUNBUFFERED": "1"},  # the error line is the log's last
      preexec_fn=_stop_with_parent(_prctl(), os.getpid()),
    )


def step_outcome(step: str, status: int, workdir: pathlib.Path, seconds: dict[str, float]) -> Outcome | None:
  """None if the step succeeded, else the run's failed Outcome."""
  if status == 0:
    return None
  return Outcome("failed", seconds, last_line(workdir / f"{step}.log"), step, status)


def execute(step_arguments: dict[str, list[str]], workdir: str, cwd: str) -> Outcome:
  """Trains then evaluates one run, waiting for each: the body of a Slurm job (and of any other launcher
  that runs one run at a time)."""
  workdir, seconds = pathlib.Path(workdir), {}
  for step in STEPS:
    start = time.monotonic()
    status = start_step(step, step_arguments[step], workdir, cwd).wait()
    seconds[step] = time.monotonic() - start
    if failed := step_outcome(step, status, workdir, seconds):
      return failed
  return Outcome("ok", seconds)


class LocalProcesses:
  """Runs as local processes, `jobs` at a time, each its train then its evaluate step."""

  poll_seconds = 0.2

  def __init__(self, jobs: int, cwd: str):
    self.capacity, self.cwd = jobs, cwd

  def start(self, planned: Planned) -> dict:
    process = start_step("train", planned.arguments["train"], planned.run.workdir, self.cwd)
    return {"planned": planned, "step": "train", "process": process, "started": time.monotonic(), "seconds": {}}

  def poll(self, handle: dict) -> Outcome | None:
    status = handle["process"].poll()
    if status is None:
      return None
    step, workdir = handle["step"], handle["planned"].run.workdir
    handle["seconds"][step] = time.monotonic() - handle["started"]
    if failed := step_outcome(step, status, workdir, handle["seconds"]):
      return failed
    if step == "evaluate":
      return Outcome("ok", handle["seconds"])
    handle.update(step="evaluate", started=time.monotonic())
    handle["process"] = start_step("evaluate", handle["planned"].arguments["evaluate"], workdir, self.cwd)
    return None

  def stop(self, handles: list[dict], *, terminate: bool = False) -> str:
    """After Ctrl-C (which the processes got too), or with `terminate` after a SIGTERM to the launcher alone
    (passed on to them): waits for them to checkpoint and exit; says how each ended."""
    for handle in handles:
      if terminate:
        handle["process"].terminate()
    for handle in handles:
      try:
        handle["process"].wait(timeout=120)
      except subprocess.TimeoutExpired:
        handle["process"].terminate()
    return "; ".join(map(_how_stopped, handles)) or "no run was in progress"


def _how_stopped(handle: dict) -> str:
  """How a run's process ended when the launcher stopped it."""
  name, step, status = handle["planned"].run.name, handle["step"], handle["process"].returncode
  if step == "train" and status == PREEMPTED_EXIT_STATUS:
    return f"{name} stopped training with a checkpoint of the step it reached"
  if status is None:
    return f"{name} is still stopping (its {step} step)"
  how = f"killed by {signal.Signals(-status).name}" if status < 0 else f"exit {status}"
  return f"{name} stopped in its {step} step ({how})" + (", before it could checkpoint" if step == "train" else "")


class SlurmJobs:
  """The launcher's backend for Slurm: start submits a run's job, poll collects its Outcome."""

  def __init__(self, folder: pathlib.Path, options: SlurmOptions, *, cwd: str, cluster: str = "slurm"):
    import submitit  # only this launcher needs it

    if cluster == "slurm" and shutil.which("sbatch") is None:
      raise configs.ConfigError(
        "--launcher slurm: no `sbatch` on this machine's PATH; launch the study from a Slurm login node, or run it "
        "here as local processes (without --launcher slurm)."
      )
    self.capacity = float("inf")  # Slurm queues them
    self.poll_seconds = 1.0 if cluster == "local" else 15.0
    self.cwd, self.study = cwd, folder.parent.name
    self.executor = submitit.AutoExecutor(folder=folder / "%j", cluster=cluster)
    self.executor.update_parameters(
      timeout_min=options.time_minutes,
      slurm_partition=options.partition,
      gpus_per_node=options.gpus_per_node,
      cpus_per_task=options.cpus_per_task,
      tasks_per_node=1,
      nodes=1,
    )

  def start(self, planned: Planned):
    run = planned.run
    self.executor.update_parameters(name=f"{self.study}-{run.group}-seed{run.seed}")
    return self.executor.submit(execute, planned.arguments, str(run.workdir), self.cwd)

  def poll(self, job) -> Outcome | None:
    if not job.done():
      return None
    try:
      return job.result()
    except Exception as e:  # the job itself failed: cancelled, out of time or memory, node failure
      lines = [line for line in str(e).splitlines() if line.strip()]
      message = f"Slurm job {job.job_id} failed: {lines[-1] if lines else type(e).__name__}"
      return Outcome("failed", {}, message, "its Slurm job", None, log=str(job.paths.stderr))

  def stop(self, jobs: list, *, terminate: bool = False) -> str:
    ids = ", ".join(str(job.job_id) for job in jobs)
    return f"the submitted jobs ({ids}) go on (scancel stops them)" if jobs else "no job was in progress"
