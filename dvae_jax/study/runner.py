"""`dvae study run`: trains and evaluates every run of a study that is not finished, as local processes
or as Slurm jobs (submitit), resumably.

Each run is two commands, `dvae train --config EXPERIMENT --workdir RUNS/STUDY/GROUP/seedN
--config.seed=N --config.KEY=VALUE ...` then `dvae evaluate --workdir ...`, run as
`python -m dvae_jax.main` processes with their output in the workdir's train.log and evaluate.log.
A run is finished when its eval_test.json exists; before anything starts, every workdir that has a
config.json is checked against the identity (configs.identity) the study asks for now, and a
difference is an error naming the runs: a changed study is never trained over an existing workdir.
A rerun after a kill resumes: finished runs are skipped, and `dvae train` resumes a workdir from its
latest checkpoint. Local processes stop with the launcher (SIGTERM, which checkpoints them), however
the launcher ends.

`--launcher slurm` submits one job per unfinished run with submitit; a job runs `execute` (the same
two commands) in the directory the study was launched from, with the launcher's environment (sbatch
exports it), and the launcher waits for the jobs, printing a line as each ends. submitit's files (the
pickled call, the job's stdout and stderr) are in RUNS/STUDY/slurm/<job id>/. A job that reaches its
time limit gets SIGTERM from Slurm: `dvae train` checkpoints and exits, the run is reported as
failed, and a rerun resumes it. Stopping the launcher does not cancel submitted jobs, and a rerun
while they are still queued or running submits their runs again: wait for them (squeue) or scancel
them first. Tests use submitit's local executor (cluster="local"), which runs the same job function
in local processes.
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
from typing import Any, TextIO

from dvae_jax import configs, workdir_lock
from dvae_jax.errors import WorkdirError
from dvae_jax.study import spec
from dvae_jax.study.spec import Run, Study

STEPS = ("train", "evaluate")
INTERRUPTED_EXIT_STATUS = 130
# A rerun right after a kill finds the killed run's processes still checkpointing (they stop on
# SIGTERM with the launcher); their workdir lock is waited for this long before the run starts anyway.
LOCK_WAIT_SECONDS = 60.0


@dataclasses.dataclass(frozen=True)
class SlurmOptions:
  """`--launcher slurm`'s resources per job (None: the cluster's default)."""

  partition: str | None = None
  time_minutes: int = 240
  gpus_per_node: int | None = None
  cpus_per_task: int | None = None


@dataclasses.dataclass(frozen=True)
class Planned:
  """A run with what it needs: the `dvae` arguments of each step, and whether it is already finished."""

  index: int  # 1-based, in the study's order
  run: Run
  arguments: dict[str, list[str]]  # step -> dvae arguments
  finished: bool


@dataclasses.dataclass(frozen=True)
class Outcome:
  """How a run's launch ended: "ok" (trained and evaluated), "failed" or "skipped"."""

  status: str
  seconds: dict[str, float]  # step -> wall seconds, of the steps that ran
  message: str = ""
  step: str = ""  # the step that failed
  exit_status: int | None = None
  log: str = ""  # where to read more (default: the failed step's log in the workdir)


def flag_value(value: Any) -> str:
  """A study override as the text of `--config.KEY=VALUE` (what ml_collections' config flags parse)."""
  if isinstance(value, str):
    return value
  return repr(tuple(value) if isinstance(value, list) else value)


def requested_config(run: Run):
  """The locked, validated config that `dvae train` will build from the run's command line."""
  config = configs.load_experiment(run.experiment)
  config.lock()
  for key, value in {**run.overrides, "seed": run.seed}.items():
    try:
      config.update_from_flattened_dict({key: value})
    except (KeyError, TypeError, ValueError, AttributeError) as e:
      detail = str(e.args[0] if isinstance(e, KeyError) and e.args else e).strip().splitlines()[-1]
      raise configs.ConfigError(f"run {run.name}: override {key}={value!r}: {detail}") from None
  try:
    configs.validate(config)
  except configs.ConfigError as e:
    raise configs.ConfigError(f"run {run.name} ({run.experiment}): {e}") from None
  return config


def arguments(run: Run) -> dict[str, list[str]]:
  """The `dvae train` and `dvae evaluate` arguments of a run."""
  overrides = {"seed": run.seed, **run.overrides}
  train = ["train", "--config", run.experiment, "--workdir", str(run.workdir)]
  train += [f"--config.{key}={flag_value(value)}" for key, value in overrides.items()]
  evaluate = ["evaluate", "--workdir", str(run.workdir), *run.evaluate.arguments()]
  if run.classifier_workdir is not None:
    evaluate.append(f"--classifier_workdir={run.classifier_workdir}")
  return {"train": train, "evaluate": evaluate}


def plan(study: Study, runs_root: str | pathlib.Path) -> list[Planned]:
  """Every run of the study with its arguments and whether it is finished; a WorkdirError naming every
  run whose existing config.json has another identity than the study asks for now."""
  planned, changed = [], []
  for index, run in enumerate(spec.runs(study, runs_root), start=1):
    wanted = configs.identity(requested_config(run).to_dict())
    if (run.workdir / "config.json").exists():
      found = configs.identity(configs.load_config(run.workdir).to_dict())
      keys = sorted(key for key in set(found) | set(wanted) if found.get(key) != wanted.get(key))
      if keys:
        differences = "; ".join(f"{key} {found.get(key)!r} -> {wanted.get(key)!r}" for key in keys)
        changed.append(f"{run.name} ({run.workdir}: {differences})")
    finished = (run.workdir / "eval_test.json").exists()
    planned.append(Planned(index, run, arguments(run), finished))
  if changed:
    raise WorkdirError(
      f"study {study.name} changed under existing runs: their config.json was trained with another experiment "
      f"than the study asks for now (trained -> asked): {'; '.join(changed)}. Their numbers would mix two "
      "experiments, so nothing was started or changed. Undo the change, give the study another name (new "
      "workdirs), or move those workdirs aside to train them anew."
    )
  return planned


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

  def stop(self, handles: list[dict]) -> str:
    """After Ctrl-C (which the processes got too): waits for them to checkpoint and exit."""
    for handle in handles:
      try:
        handle["process"].wait(timeout=120)
      except subprocess.TimeoutExpired:
        handle["process"].terminate()
    return "the runs in progress stopped with a checkpoint"


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

  def stop(self, jobs: list) -> str:
    ids = ", ".join(str(job.job_id) for job in jobs)
    return f"the submitted jobs ({ids}) go on (scancel stops them)" if jobs else "no job was in progress"


def format_outcome(planned: Planned, outcome: Outcome, total: int) -> str:
  """The progress line of a run that ended."""
  head = f"[{planned.index}/{total}] {planned.run.name}: "
  minutes = {step: f"{seconds / 60:.1f} min" for step, seconds in outcome.seconds.items()}
  if outcome.status == "ok":
    return head + f"trained {minutes['train']}, evaluated {minutes['evaluate']}"
  if outcome.status == "skipped":
    return head + f"skipped: {outcome.message}"
  log = outcome.log or planned.run.workdir / f"{outcome.step}.log"
  exit_status = "" if outcome.exit_status is None else f" (exit {outcome.exit_status})"
  return head + f"failed{exit_status} in {outcome.step}: {outcome.message} (log: {log})"


def launch(planned: list[Planned], backend, *, out: TextIO) -> int:
  """Runs every unfinished run through `backend` (start / poll / stop), a run after the run whose workdir
  is its classifier; prints a line per run and a summary of failures. Returns the exit status."""
  total = len(planned)
  by_workdir = {p.run.workdir: p for p in planned}
  pending = [p for p in planned if not p.finished]
  for p in planned:
    if p.finished:
      print(f"[{p.index}/{total}] {p.run.name}: done (eval_test.json in {p.run.workdir})", file=out, flush=True)
  active: dict[pathlib.Path, Any] = {}
  outcomes: dict[pathlib.Path, tuple[Planned, Outcome]] = {}
  try:
    while pending or active:
      for p in list(pending):
        dependency = by_workdir.get(p.run.classifier_workdir)
        if dependency is not None and not dependency.finished:
          if dependency.run.workdir not in outcomes:
            continue  # waits for its classifier
          if outcomes[dependency.run.workdir][1].status != "ok":
            outcome = Outcome("skipped", {}, f"its classifier run ({dependency.run.name}) did not finish")
            outcomes[p.run.workdir] = (p, outcome)
            print(format_outcome(p, outcome, total), file=out, flush=True)
            pending.remove(p)
            continue
        if len(active) >= backend.capacity:
          break
        pending.remove(p)
        print(f"[{p.index}/{total}] {p.run.name}: started ({p.run.workdir})", file=out, flush=True)
        active[p.run.workdir] = (p, backend.start(p))
      for workdir, (p, handle) in list(active.items()):
        if (outcome := backend.poll(handle)) is not None:
          del active[workdir]
          outcomes[workdir] = (p, outcome)
          print(format_outcome(p, outcome, total), file=out, flush=True)
      if active:
        time.sleep(backend.poll_seconds)
  except KeyboardInterrupt:
    how = backend.stop([handle for _, handle in active.values()])
    print(f"interrupted (Ctrl-C): {how}. Rerun the same command to go on; finished runs are kept.", file=out)
    return INTERRUPTED_EXIT_STATUS
  failed = [(p, o) for p, o in outcomes.values() if o.status != "ok"]
  done = sum(p.finished for p in planned)
  print(f"{total} runs: {done} finished before, {len(outcomes) - len(failed)} trained and evaluated now", file=out)
  if failed:
    print(f"{len(failed)} did not finish:", file=out)
    for p, outcome in sorted(failed, key=lambda item: item[0].index):
      print(f"  {format_outcome(p, outcome, total)}", file=out)
  return 1 if failed else 0


def run_study(
  study: Study,
  runs_root: str | pathlib.Path = "runs",
  *,
  jobs: int = 1,
  launcher: str = "local",
  slurm: SlurmOptions = SlurmOptions(),
  dry_run: bool = False,
  out: TextIO | None = None,
  cluster: str = "slurm",
) -> int:
  """Trains and evaluates every unfinished run of `study` under RUNS_ROOT/<study name>; returns the exit
  status (0: every run finished; 1: some failed, named in the summary; 130: interrupted).

  Args:
    study: the study (load_study).
    runs_root: where the study's folder is made.
    jobs: local processes at a time (`launcher` "local").
    launcher: "local" (processes on this machine) or "slurm" (one submitit job per run).
    slurm: the jobs' resources.
    dry_run: print the commands of the unfinished runs instead of running them.
    out: where progress lines go (default: sys.stdout).
    cluster: submitit's executor for "slurm" ("local": submitit's local executor, for tests).
  """
  out = out or sys.stdout  # looked up now: tests and notebooks replace it
  planned = plan(study, runs_root)
  todo = [p for p in planned if not p.finished]
  if dry_run:
    print(f"# study {study.name}: {len(todo)} of {len(planned)} runs to train and evaluate", file=out)
    for p in todo:
      print(f"# {p.run.name}\n{command_line(p.arguments['train'])}\n{command_line(p.arguments['evaluate'])}", file=out)
    return 0
  if launcher == "slurm":
    backend = SlurmJobs(spec.study_dir(study, runs_root) / "slurm", slurm, cwd=os.getcwd(), cluster=cluster)
  else:
    backend = LocalProcesses(jobs, cwd=os.getcwd())
  return launch(planned, backend, out=out)
