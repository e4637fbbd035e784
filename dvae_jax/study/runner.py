"""`dvae study run`: trains and evaluates every run of a study that is not finished, as local processes
or as Slurm jobs (submitit), resumably.

Each run is two commands, `dvae train --config EXPERIMENT --workdir RUNS/STUDY/GROUP/seedN
--config.seed=N --config.KEY=VALUE ...` then `dvae evaluate --workdir ...`, run as
`python -m dvae_jax.main` processes with their output in the workdir's train.log and evaluate.log.
A run is finished when its eval_test.json exists; before anything starts, every workdir that has a
config.json is checked against the identity (configs.identity) the study asks for now, and a
difference is an error naming the runs: a changed study is never trained over an existing workdir.
A finished run that recorded other settings than the study asks for now (its training length, an
override, its evaluation: provenance.py) is named with how to redo it, and not counted as done.
A rerun after a kill resumes: finished runs are skipped, and `dvae train` resumes a workdir from its
latest checkpoint ("resumed from step N"). Local processes stop with the launcher (SIGTERM, which
checkpoints them), however the launcher ends; a launcher stopped by SIGTERM passes it on, waits for
them, says which runs finished and exits PREEMPTED_EXIT_STATUS (75), as `dvae train` does.

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

import contextlib
import os
import pathlib
import signal
import sys
import threading
import time
from typing import Any, TextIO

from dvae_jax.errors import WorkdirError
from dvae_jax.preemption import PREEMPTED_EXIT_STATUS
from dvae_jax.study import provenance, spec
from dvae_jax.study.launchers import LocalProcesses, Outcome, Planned, SlurmJobs, SlurmOptions, command_line
from dvae_jax.study.provenance import requested_config
from dvae_jax.study.spec import Study, StudyRun

INTERRUPTED_EXIT_STATUS = 130  # Ctrl-C, as `dvae` exits on it; SIGTERM exits PREEMPTED_EXIT_STATUS, as `dvae train`


def flag_value(value: Any) -> str:
  """A study override as the text of `--config.KEY=VALUE` (what ml_collections' config flags parse)."""
  if isinstance(value, str):
    return value
  return repr(tuple(value) if isinstance(value, list) else value)


def arguments(run: StudyRun) -> dict[str, list[str]]:
  """The `dvae train` and `dvae evaluate` arguments of a run."""
  overrides = {"seed": run.seed, **run.overrides}  # eval.* ones too: config.json then says how to evaluate
  train = ["train", "--config", run.experiment, "--workdir", str(run.workdir)]
  train += [f"--config.{key}={flag_value(value)}" for key, value in overrides.items()]
  evaluate = ["evaluate", "--workdir", str(run.workdir), *run.evaluation_arguments]
  if run.classifier_workdir is not None:
    evaluate.append(f"--classifier_workdir={run.classifier_workdir}")
  return {"train": train, "evaluate": evaluate}


def latest_checkpoint(workdir: pathlib.Path) -> int | None:
  """The step of the run's latest complete checkpoint (orbax renames a checkpoint to its step when written)."""
  directory = workdir / "checkpoints"
  steps = [int(path.name) for path in directory.iterdir() if path.name.isdigit()] if directory.is_dir() else []
  return max(steps, default=None)


def plan(study: Study, runs_root: str | pathlib.Path) -> list[Planned]:
  """Every run of the study with its arguments, whether it is finished (and as the study asks: provenance.py)
  or has a checkpoint to resume; a WorkdirError naming every run whose existing config.json has another
  identity than the study asks for now."""
  planned, changed = [], []
  for index, run in enumerate(spec.runs(study, runs_root), start=1):
    recorded = provenance.check(run, provenance.plain(requested_config(run)))
    if identity := recorded.of_kind("identity"):
      changed.append(f"{run.name} ({run.workdir}: {'; '.join(map(str, identity))})")
    finished = recorded.evaluation is not None
    resumed = None if finished else latest_checkpoint(run.workdir)
    differs = recorded if finished and recorded.differences else None
    planned.append(Planned(index, run, arguments(run), finished, resumed, differs))
  if changed:
    raise WorkdirError(
      f"study {study.name} changed under existing runs: their config.json was trained with another experiment "
      f"than the study asks for now (trained -> asked): {'; '.join(changed)}. Their numbers would mix two "
      "experiments, so nothing was started or changed. Undo the change, give the study another name (new "
      "workdirs), or move those workdirs aside to train them anew."
    )
  return planned


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


class Stopped(Exception):
  """The launcher got SIGTERM (a scheduler's stop, or `kill`)."""


@contextlib.contextmanager
def sigterm_stops():
  """While inside, SIGTERM raises Stopped (once: a repeat while the runs checkpoint is ignored) instead of
  killing the launcher without a word; the previous handler comes back on exit."""
  if threading.current_thread() is not threading.main_thread():  # where Python cannot handle signals
    yield
    return
  received = []

  def handle(signum, frame) -> None:
    if not received:
      received.append(signum)
      raise Stopped(signal.Signals(signum).name)

  previous = signal.signal(signal.SIGTERM, handle)
  try:
    yield
  finally:
    signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def differs_text(recorded: provenance.Recorded) -> str:
  """What a finished run that recorded other settings than the study asks for now is, and how to redo it."""
  differences = "; ".join(map(str, recorded.differences))
  return (
    f"finished otherwise than the study file asks now (recorded -> asked: {differences}); not counted as done; "
    f"{recorded.fix()}, then rerun"
  )


def format_differs(planned: Planned, total: int) -> str:
  """The progress line of a finished run that recorded other settings than the study asks for now."""
  return f"[{planned.index}/{total}] {planned.run.name}: {differs_text(planned.differs)}"


def format_stop(event: str, how: str, finished: list[Planned], total: int) -> str:
  """The line of a launcher stopped by Ctrl-C or SIGTERM."""
  names = ", ".join(p.run.name for p in sorted(finished, key=lambda p: p.index))
  return (
    f"{event}: {how}. Finished: {len(finished)} of {total} runs{f' ({names})' if names else ''}. "
    "Rerun the same command to resume; finished runs are kept."
  )


def launch(planned: list[Planned], backend, *, out: TextIO) -> int:
  """Runs every unfinished run through `backend` (start / poll / stop; None when there is none to run), a
  run after the runs whose workdirs are its classifier and the one it starts from (init_workdir); prints
  a line per run and a summary of failures.

  Returns the exit status: 0 when every run is done as the study asks, 1 when some failed or finished
  otherwise, INTERRUPTED_EXIT_STATUS after Ctrl-C and PREEMPTED_EXIT_STATUS after SIGTERM (the runs in
  progress checkpoint first; rerunning resumes).
  """
  total = len(planned)
  by_workdir = {p.run.workdir: p for p in planned}
  pending = [p for p in planned if not p.finished]
  active: dict[pathlib.Path, Any] = {}
  outcomes: dict[pathlib.Path, tuple[Planned, Outcome]] = {}
  # The handler stays while the runs in progress stop: a repeated SIGTERM does not cut their checkpoint short.
  with sigterm_stops():
    try:
      for p in planned:
        if p.differs is not None:
          print(format_differs(p, total), file=out, flush=True)
        elif p.finished:
          print(f"[{p.index}/{total}] {p.run.name}: done (eval_test.json in {p.run.workdir})", file=out, flush=True)
      _launch_pending(pending, by_workdir, active, outcomes, backend, total, out)
    except (KeyboardInterrupt, Stopped) as e:
      stopped = isinstance(e, Stopped)
      handles = [handle for _, handle in active.values()]
      how = backend.stop(handles, terminate=stopped) if backend is not None else "no run was in progress"
      finished = [p for p in planned if p.done] + [p for p, o in outcomes.values() if o.status == "ok"]
      event = f"stopped by {e}" if stopped else "interrupted (Ctrl-C)"
      print(format_stop(event, how, finished, total), file=out, flush=True)
      return PREEMPTED_EXIT_STATUS if stopped else INTERRUPTED_EXIT_STATUS
  failed = [(p, o) for p, o in outcomes.values() if o.status != "ok"]
  differ = [p for p in planned if p.differs is not None]
  done = sum(p.done for p in planned)
  print(f"{total} runs: {done} finished before, {len(outcomes) - len(failed)} trained and evaluated now", file=out)
  if differ:
    print(f"{len(differ)} finished otherwise than the study file asks now (not counted as done):", file=out)
    for p in differ:
      print(f"  {format_differs(p, total)}", file=out)
  if failed:
    print(f"{len(failed)} did not finish:", file=out)
    for p, outcome in sorted(failed, key=lambda item: item[0].index):
      print(f"  {format_outcome(p, outcome, total)}", file=out)
  return 1 if failed or differ else 0


def _launch_pending(pending, by_workdir, active, outcomes, backend, total: int, out: TextIO) -> None:
  """launch's loop: starts each pending run when the runs it depends on (its classifier's, the one it starts
  from) are done and the backend has room, until every run has an outcome."""
  while pending or active:
    for p in list(pending):
      dependencies = [by_workdir[path] for path in p.run.dependencies if path in by_workdir]
      unfinished = [dependency for dependency in dependencies if not dependency.finished]
      if any(dependency.run.workdir not in outcomes for dependency in unfinished):
        continue  # waits for them
      if failed := [d for d in unfinished if outcomes[d.run.workdir][1].status != "ok"]:
        role = "classifier run" if failed[0].run.workdir == p.run.classifier_workdir else "run it starts from"
        outcome = Outcome("skipped", {}, f"its {role} ({failed[0].run.name}) did not finish")
        outcomes[p.run.workdir] = (p, outcome)
        print(format_outcome(p, outcome, total), file=out, flush=True)
        pending.remove(p)
        continue
      if len(active) >= backend.capacity:
        break
      pending.remove(p)
      how = "started" if p.resumed_step is None else f"resumed from step {p.resumed_step}"
      print(f"[{p.index}/{total}] {p.run.name}: {how} ({p.run.workdir})", file=out, flush=True)
      active[p.run.workdir] = (p, backend.start(p))
    for workdir, (p, handle) in list(active.items()):
      if (outcome := backend.poll(handle)) is not None:
        del active[workdir]
        outcomes[workdir] = (p, outcome)
        print(format_outcome(p, outcome, total), file=out, flush=True)
    if active:
      time.sleep(backend.poll_seconds)


def run_study(
  study: Study,
  runs_root: str | pathlib.Path = "runs",
  *,
  jobs: int = 1,
  launcher: str = "local",
  slurm: SlurmOptions | None = None,
  dry_run: bool = False,
  out: TextIO | None = None,
  cluster: str = "slurm",
) -> int:
  """Trains and evaluates every unfinished run of `study` under RUNS_ROOT/<study name>; returns the exit
  status (0: every run finished as the study asks; 1: some failed, or finished otherwise, named in the
  summary; 130: interrupted by Ctrl-C; 75: stopped by SIGTERM).

  Args:
    study: the study (load_study).
    runs_root: where the study's folder is made.
    jobs: local processes at a time (`launcher` "local").
    launcher: "local" (processes on this machine) or "slurm" (one submitit job per run; neither submitit nor
      sbatch is needed when every run is finished).
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
    for p in planned:
      if p.differs is not None:
        print(f"# {p.run.name}: {differs_text(p.differs)}", file=out)
    for p in todo:
      print(f"# {p.run.name}\n{command_line(p.arguments['train'])}\n{command_line(p.arguments['evaluate'])}", file=out)
    return 0
  if not todo:
    backend = None  # nothing to launch
  elif launcher == "slurm":
    backend = SlurmJobs(
      spec.study_dir(study, runs_root) / "slurm", slurm or SlurmOptions(), cwd=os.getcwd(), cluster=cluster
    )
  else:
    backend = LocalProcesses(jobs, cwd=os.getcwd())
  return launch(planned, backend, out=out)
