"""study/runner.py: `dvae study run`: each run's commands, the launcher's scheduling on a fake backend (a failure, a
SIGTERM, a resumed run), and the smoke study for real: through the Slurm launcher on submitit's local executor,
then changed, extended, and killed halfway as local processes and rerun."""

import csv
import io
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
from absl import flags
from ml_collections.config_flags import tuple_parser

from dvae_jax import main
from dvae_jax.preemption import PREEMPTED_EXIT_STATUS
from dvae_jax.study import Group, Study, load_study, runner
from tests.helpers import REPO, planned_runs

QUICK = "smoke:quick"  # experiments/studies/smoke.py with one seed: runs vae seed 0, dvae seed 0


def test_override_values_read_back_as_the_config_flags_parse_them():
  assert flags.IntegerParser().parse(runner.flag_value(64)) == 64
  assert flags.FloatParser().parse(runner.flag_value(1e-05)) == 1e-05
  assert flags.BooleanParser().parse(runner.flag_value(False)) is False
  assert tuple_parser.TupleParser().parse(runner.flag_value([8, 16])) == (8, 16)
  assert runner.flag_value("bce") == "bce"


class FakeBackend:
  """Runs nothing: each run ends at its first poll, failing if its group is in `failing`."""

  capacity, poll_seconds = 2, 0.0

  def __init__(self, failing: set[str]):
    self.failing, self.started, self.stopped = failing, [], []

  def start(self, planned):
    self.started.append(planned.run.name)
    return planned

  def poll(self, planned):
    if planned.run.group in self.failing:
      return runner.Outcome("failed", {"train": 6.0}, "dvae: error: no such file", "train", 1)
    return runner.Outcome("ok", {"train": 312.0, "evaluate": 48.0})

  def stop(self, handles, *, terminate=False):
    self.stopped.append(([h.run.name for h in handles], terminate))
    return "stopped"


def test_launch_reports_each_run_goes_on_after_a_failure_and_skips_what_needs_a_failed_classifier(tmp_path):
  groups = {"judge": Group("j", seeds=(0,)), "vae": Group("v", classifier="judge"), "ae": Group("a")}
  planned = planned_runs(Study("s", groups, seeds=(0, 1)), tmp_path, finished={"ae seed 1"})
  out, backend = io.StringIO(), FakeBackend(failing={"judge"})
  assert runner.launch(planned, backend, out=out) == 1
  lines = out.getvalue().splitlines()
  assert "[5/5] ae seed 1: done (eval_test.json in " in lines[0]
  assert backend.started == ["judge seed 0", "ae seed 0"]
  log = tmp_path / "s" / "judge" / "seed0" / "train.log"
  failed = f"[1/5] judge seed 0: failed (exit 1) in train: dvae: error: no such file (log: {log})"
  assert failed in lines
  assert "[3/5] ae seed 0: trained 5.2 min, evaluated 0.8 min" in lines
  assert "[2/5] vae seed 0: skipped: its classifier run (judge seed 0) did not finish" in lines
  assert lines[-5:] == [
    "5 runs: 1 finished before, 1 trained and evaluated now",
    "3 did not finish:",
    f"  {failed}",
    "  [2/5] vae seed 0: skipped: its classifier run (judge seed 0) did not finish",
    "  [4/5] vae seed 1: skipped: its classifier run (judge seed 0) did not finish",
  ]
  out, backend = io.StringIO(), FakeBackend(failing=set())
  assert runner.launch(planned, backend, out=out) == 0
  assert backend.started == ["judge seed 0", "ae seed 0", "vae seed 0", "vae seed 1"]  # after their classifier


class SigtermBackend(FakeBackend):
  """A scheduler's SIGTERM to the launcher at the first poll of a run of group "slow"."""

  signalled = False

  def poll(self, planned):
    if planned.run.group == "slow" and not self.signalled:
      self.signalled = True
      os.kill(os.getpid(), signal.SIGTERM)
      return None
    return super().poll(planned)


def test_a_launcher_stopped_by_sigterm_says_which_runs_finished_and_exits_as_a_preempted_run(tmp_path):
  planned = planned_runs(Study("s", {"ae": Group("a"), "slow": Group("v")}, seeds=(0, 1)), tmp_path, {"ae seed 1"})
  killed = []  # what SIGTERM would do here without the launcher's handler (kill pytest), recorded instead

  def record(signum, frame):
    killed.append(signum)

  previous = signal.signal(signal.SIGTERM, record)
  try:
    out, backend = io.StringIO(), SigtermBackend(failing=set())
    status = runner.launch(planned, backend, out=out)
    assert signal.getsignal(signal.SIGTERM) is record  # the handler before the launch, put back
  finally:
    signal.signal(signal.SIGTERM, previous)
  assert not killed
  assert status == PREEMPTED_EXIT_STATUS == 75
  assert backend.stopped == [(["slow seed 0"], True)]  # the run in progress is passed the SIGTERM
  assert out.getvalue().splitlines()[-1] == (
    "stopped by SIGTERM: stopped. Finished: 2 of 4 runs (ae seed 0, ae seed 1). "
    "Rerun the same command to resume; finished runs are kept."
  )


def test_a_run_with_a_checkpoint_is_reported_as_resumed(tmp_path):
  study = Study("s", {"vae": Group("mnist_vae:smoke")}, seeds=(0, 1))
  checkpoints = tmp_path / "s" / "vae" / "seed1" / "checkpoints"
  for name in ("4", "12", "16.orbax-checkpoint-tmp-1700000000"):  # the last one was never completed
    (checkpoints / name).mkdir(parents=True)
  planned = runner.plan(study, tmp_path)
  assert [(p.resumed_step, p.finished) for p in planned] == [(None, False), (12, False)]
  out = io.StringIO()
  assert runner.launch(planned, FakeBackend(failing=set()), out=out) == 0
  assert f"[1/2] vae seed 0: started ({tmp_path / 's' / 'vae' / 'seed0'})" in out.getvalue().splitlines()
  assert f"[2/2] vae seed 1: resumed from step 12 ({checkpoints.parent})" in out.getvalue().splitlines()


@pytest.fixture(scope="module")
def slurm_root(study_environment, tmp_path_factory) -> pathlib.Path:
  """smoke:quick trained and evaluated through the Slurm launcher, on submitit's local executor."""
  root = tmp_path_factory.mktemp("slurm")
  out = io.StringIO()
  status = runner.run_study(load_study(QUICK), root, launcher="slurm", cluster="local", out=out)
  assert status == 0, out.getvalue()
  lines = out.getvalue().splitlines()
  assert any(line.startswith("[1/2] vae seed 0: trained ") for line in lines), lines
  assert any(line.startswith("[2/2] dvae seed 0: trained ") for line in lines), lines
  return root


def test_slurm_launcher_submits_each_unfinished_run_as_a_job(slurm_root):
  study_dir = slurm_root / "smoke_quick"
  jobs = sorted(path.name for path in (study_dir / "slurm").iterdir() if path.name.isdigit())
  assert len(jobs) == 2  # one submitit folder per job (and "%j", its pickles before submission)
  for group in ("vae", "dvae"):
    workdir = study_dir / group / "seed0"
    assert json.loads((workdir / "eval_test.json").read_text())["iw_samples"] == 2
    assert (workdir / "train.log").read_text().startswith(f"$ dvae train --config mnist_{group}:smoke --workdir ")
  out = io.StringIO()
  assert runner.run_study(load_study(QUICK), slurm_root, launcher="slurm", cluster="local", out=out) == 0
  assert "[1/2] vae seed 0: done" in out.getvalue() and "0 trained and evaluated now" in out.getvalue()
  assert sorted(path.name for path in (study_dir / "slurm").iterdir() if path.name.isdigit()) == jobs  # none again


def test_dry_run_prints_the_commands_of_the_unfinished_runs(slurm_root, tmp_path, capsys):
  assert main.invoke("study", "run", QUICK, "--runs", str(tmp_path), "--dry-run") == 0
  printed = capsys.readouterr().out.splitlines()
  workdir = tmp_path / "smoke_quick" / "vae" / "seed0"
  assert printed[:3] == [
    "# study smoke_quick: 2 of 2 runs to train and evaluate",
    "# vae seed 0",
    (
      f"dvae train --config mnist_vae:smoke --workdir {workdir} --config.seed=0 --config.eval.iw_samples=2 "
      "--config.eval.iw_limit=16 --config.data.train_limit=64 --config.data.eval_limit=64 --config.train.num_epochs=1 "
      "--config.train.progress_bar=False"
    ),
  ]
  assert printed[3] == f"dvae evaluate --workdir {workdir} --iw_samples=2 --iw_limit=16"
  assert not tmp_path.joinpath("smoke_quick").exists()
  assert main.invoke("study", "run", QUICK, "--runs", str(slurm_root), "--dry-run") == 0
  assert capsys.readouterr().out == "# study smoke_quick: 0 of 2 runs to train and evaluate\n"


def test_a_changed_study_under_existing_runs_is_an_error(slurm_root, tmp_path, capsys):
  changed = tmp_path / "changed.py"
  changed.write_text(
    "from dvae_jax.study import Group, Study\n\n\ndef get_study():\n"
    "  tiny = {'data.train_limit': 128, 'data.eval_limit': 64, 'train.num_epochs': 1}\n"
    "  return Study('smoke_quick', {'vae': Group('mnist_vae:smoke', tiny)}, seeds=(0,))\n"
  )
  assert main.invoke("study", "run", str(changed), "--runs", str(slurm_root)) == 1
  error = capsys.readouterr().err
  assert error.startswith("dvae: error: study smoke_quick changed under existing runs")
  assert f"vae seed 0 ({slurm_root / 'smoke_quick' / 'vae' / 'seed0'}: data.train_limit 64 -> 128)" in error
  assert "nothing was started or changed" in error


def _smoke_copy(folder: pathlib.Path, old: str, new: str) -> str:
  """experiments/studies/smoke.py, changed after its runs finished (the study, spec with :quick)."""
  text = (REPO / "experiments" / "studies" / "smoke.py").read_text()
  assert old in text
  (folder / "smoke.py").write_text(text.replace(old, new))
  return f"{folder / 'smoke.py'}:quick"


def test_a_report_describes_the_runs_by_what_they_recorded(slurm_root, tmp_path, capsys):
  assert main.invoke("study", "report", QUICK, "--runs", str(slurm_root), "--out", str(tmp_path)) == 0
  text = (tmp_path / "README.md").read_text()
  settings = "data.train_limit=64, data.eval_limit=64, train.num_epochs=1, train.progress_bar=False"
  for group in ("vae", "dvae"):
    step = json.loads((slurm_root / "smoke_quick" / group / "seed0" / "eval_test.json").read_text())["step"]
    evaluated = f"epoch 1 (step {step}) | NLL: 2 importance samples on 16 images |"
    assert f"| {group} | `mnist_{group}:smoke` | {settings} | 0 | {evaluated}" in text
  assert "Not checked against the study file" not in text


def test_more_epochs_asked_after_the_runs_finished_are_named_not_reported(slurm_root, tmp_path, capsys):
  """The user's case: smoke's train.num_epochs raised from 1 to 3 after its runs finished (eval_test.json:
  epoch 1). `study run` names each run and how to train it on; `study report` writes nothing."""
  study = _smoke_copy(tmp_path, '"train.num_epochs": 1', '"train.num_epochs": 3')
  workdirs = {group: slurm_root / "smoke_quick" / group / "seed0" for group in ("vae", "dvae")}
  assert main.invoke("study", "run", study, "--runs", str(slurm_root)) == 1
  lines = capsys.readouterr().out.splitlines()
  differs = {
    group: "finished otherwise than the study file asks now (recorded -> asked: train.num_epochs 1 -> 3); not counted "
    f"as done; to train on from its checkpoint: mv {workdir / 'eval_test.json'} {workdir / 'eval_test.json.old'}, "
    "then rerun"
    for group, workdir in workdirs.items()
  }
  assert lines[:2] == [f"[1/2] vae seed 0: {differs['vae']}", f"[2/2] dvae seed 0: {differs['dvae']}"]
  assert lines[2:4] == [
    "2 runs: 0 finished before, 0 trained and evaluated now",
    "2 finished otherwise than the study file asks now (not counted as done):",
  ]
  assert not any(line.startswith("report: ") for line in lines)
  assert main.invoke("study", "run", study, "--runs", str(slurm_root), "--dry-run") == 0
  assert capsys.readouterr().out.splitlines()[1] == f"# vae seed 0: {differs['vae']}"
  assert all((w / "train.log").read_text().count("$ dvae train ") == 1 for w in workdirs.values())  # none started

  assert main.invoke("study", "report", study, "--runs", str(slurm_root), "--out", str(tmp_path / "report")) == 1
  error = capsys.readouterr().err
  assert error.startswith(
    "dvae: error: study smoke_quick: 2 finished runs ran otherwise than the study file asks now (recorded -> asked): "
    f"vae seed 0 ({workdirs['vae']}: train.num_epochs 1 -> 3; to train on from its checkpoint: mv "
  )
  assert "so none was written and nothing was changed" in error
  assert not (tmp_path / "report").exists()


def test_a_report_of_runs_of_another_identity_is_an_error(slurm_root, tmp_path, capsys):
  """data.train_limit 64 -> 128 after the runs: `study run` refuses (above), and so does `study report`."""
  study = _smoke_copy(tmp_path, '"data.train_limit": 64', '"data.train_limit": 128')
  assert main.invoke("study", "report", study, "--runs", str(slurm_root), "--out", str(tmp_path / "report")) == 1
  error = capsys.readouterr().err
  workdir = slurm_root / "smoke_quick" / "vae" / "seed0"
  assert f"vae seed 0 ({workdir}: data.train_limit 64 -> 128; to train it anew: mv {workdir} {workdir}.old)" in error
  assert not (tmp_path / "report").exists()


def test_slurm_launcher_needs_neither_sbatch_nor_submitit_when_every_run_is_finished(slurm_root, tmp_path, monkeypatch):
  monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch
  monkeypatch.setitem(sys.modules, "submitit", None)  # `import submitit` fails
  out = io.StringIO()
  assert runner.run_study(load_study(QUICK), slurm_root, launcher="slurm", out=out) == 0, out.getvalue()
  assert "2 runs: 2 finished before, 0 trained and evaluated now" in out.getvalue()


def _report(root: pathlib.Path) -> tuple[str, list[dict]]:
  """The README up to its wall times without the line naming the folder, and the CSV without times and paths."""
  assert main.invoke("study", "report", QUICK, "--runs", str(root)) == 0
  folder = root / "smoke_quick" / "report"
  readme = (folder / "README.md").read_text().split("## Wall time")[0]
  rows = [
    {k: v for k, v in row.items() if k not in ("train_minutes", "workdir")}
    for row in csv.DictReader((folder / "runs.csv").open())
  ]
  return "\n".join(line for line in readme.splitlines() if not line.startswith("Made by")), rows


def test_a_killed_study_resumes_and_reports_as_an_uninterrupted_one(slurm_root, tmp_path):
  command = [sys.executable, "-m", "dvae_jax.main", "study", "run", QUICK, "--runs", str(tmp_path)]
  pipes = {"cwd": REPO, "stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
  study_dir = tmp_path / "smoke_quick"
  launcher = subprocess.Popen(command, **pipes)
  output = []
  for line in launcher.stdout:
    output.append(line)
    if line.startswith("[2/2] dvae seed 0: started"):
      break
  deadline = time.monotonic() + 120
  while not (study_dir / "dvae" / "seed0" / "config.json").exists() and time.monotonic() < deadline:
    time.sleep(0.05)  # the second run's training has restored its state (or started afresh)
  time.sleep(0.5)  # into its steps: the SIGTERM its process gets when the launcher dies checkpoints it
  launcher.send_signal(signal.SIGKILL)
  launcher.communicate()
  assert "[1/2] vae seed 0: trained" in "".join(output), output
  assert not (study_dir / "dvae" / "seed0" / "eval_test.json").exists()
  first = study_dir / "vae" / "seed0"
  written = {path: path.stat().st_mtime_ns for path in [*first.rglob("*"), first]}

  rerun = subprocess.run(command, **pipes, timeout=600)
  assert rerun.returncode == 0, rerun.stdout
  assert f"[1/2] vae seed 0: done (eval_test.json in {first})" in rerun.stdout
  assert "[2/2] dvae seed 0: trained" in rerun.stdout
  # Two attempts in the second run's log: the killed one, then the one that resumed its checkpoint.
  assert (study_dir / "dvae" / "seed0" / "train.log").read_text().count("$ dvae train ") == 2
  assert {path: path.stat().st_mtime_ns for path in [*first.rglob("*"), first]} == written  # not retrained
  assert _report(tmp_path) == _report(slurm_root)
