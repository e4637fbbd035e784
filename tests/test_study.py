"""Studies (`dvae study run|report`): statistics against hand-computed numbers, a report of hand-written runs
(tests/fixtures/study/), the launcher's scheduling on a fake backend, and the smoke study for real: through
the Slurm launcher on submitit's local executor, then killed halfway as local processes and rerun."""

import csv
import dataclasses
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
from dvae_jax.errors import ConfigError, WorkdirError
from dvae_jax.preemption import PREEMPTED_EXIT_STATUS
from dvae_jax.study import Group, Study, Table, load_study, report, runner, spec, stats
from tests.helpers import REPO, study_process_environment

FIXTURES = REPO / "tests" / "fixtures" / "study"
QUICK = "smoke:quick"  # experiments/studies/smoke.py with one seed: runs vae seed 0, dvae seed 0
T_975 = {1: 12.706204736174694, 2: 4.302652729749462}  # Student's t, 0.975 quantile, by degrees of freedom


# ---------------------------------------------------------------- statistics: known answers


def test_mean_and_sample_standard_deviation():
  summary = stats.summarize([1.0, 2.0, 3.0, 4.0])
  assert (summary.n, summary.mean) == (4, 2.5)
  assert summary.sd == pytest.approx((5 / 3) ** 0.5, rel=1e-12)  # squares 2.25 + 0.25 + 0.25 + 2.25 = 5, / (4 - 1)
  assert stats.summarize([7.0]) == stats.Summary(1, 7.0, None)  # one seed: no spread
  assert stats.summarize([]) == stats.Summary(0, None, None)


def test_paired_difference_over_common_seeds_with_its_t_interval():
  # Seeds 5 and 7 are in one group only: the pairs are seeds 0, 1, 2 with differences 1, 2, 3.
  difference = stats.paired_difference({0: 11.0, 1: 12.0, 2: 13.0, 5: 99.0}, {0: 10.0, 1: 10.0, 2: 10.0, 7: 0.0})
  assert (difference.seeds, difference.mean, difference.sd) == ((0, 1, 2), 2.0, 1.0)
  assert T_975[2] == pytest.approx(4.302653, abs=1e-6)  # the textbook table's t(0.975, 2)
  assert difference.half_width == pytest.approx(2.4841377, abs=1e-7)  # 4.302653 * 1 / sqrt(3) = 4.302653 * 0.577350
  assert difference.interval == pytest.approx((2 - 2.4841377, 2 + 2.4841377), abs=1e-7)
  assert difference.excludes_zero is False
  # Differences 2.0 and 2.1: mean 2.05, sd 0.0707107, half width 12.706205 * 0.0707107 / sqrt(2) = 0.6353102.
  close = stats.paired_difference({0: 10.0, 1: 11.0}, {0: 8.0, 1: 8.9})
  assert (close.n, close.mean) == (2, pytest.approx(2.05))
  assert close.sd == pytest.approx(0.0707107, abs=1e-7) and close.half_width == pytest.approx(0.6353102, abs=1e-7)
  assert close.excludes_zero is True
  below = stats.paired_difference({0: 0.0, 1: 0.0, 2: 0.0}, {0: 3.0, 1: 4.0, 2: 5.0})  # -3, -4, -5
  assert (below.mean, below.sd, below.excludes_zero) == (-4.0, 1.0, True)
  single = stats.paired_difference({0: 3.0}, {0: 1.0, 1: 2.0})
  assert (single.n, single.mean, single.half_width, single.interval, single.excludes_zero) == (1, 2.0, None, None, None)


# ---------------------------------------------------------------- the report of hand-written runs


def test_report_of_fixture_runs(tmp_path, capsys):
  """tests/fixtures/study/fixture/: a over seeds 0-2 (NLL 100, 102, 104; KL 10, 11, 12), b over seeds 0-1
  (99, 100; 8.0, 8.9; its seed 2 unfinished), c with seed 0 (90; 7). a's metrics.jsonl: 30 + 90 s, 60 s."""
  status = main.invoke("study", "report", str(FIXTURES / "fixture.py"), "--runs", str(FIXTURES), "--out", str(tmp_path))
  assert status == 0, capsys.readouterr().err
  text = (tmp_path / "README.md").read_text()
  assert "Not finished (no eval_test.json; `dvae study run` trains them): b seed 2." in text
  assert "| group | seeds | n | NLL, importance-weighted, nats | KL, nats |" in text
  assert "| a | 0, 1, 2 | 3 | 102.00 ± 2.00 | 11.000 ± 1.000 |" in text
  assert "| b | 0, 1 | 2 | 99.50 ± 0.71 | 8.450 ± 0.636 |" in text  # sd of 8.0, 8.9: 0.6364
  assert "| b: published |  |  | 95 | - |" in text
  assert "| c | 0 | 1 | 90.00 (n = 1, no spread) | 7.000 (n = 1, no spread) |" in text
  # a - b over seeds 0 and 1: NLL 1, 2 -> 1.5 ± 12.7062 * 0.7071 / sqrt(2); KL 2.0, 2.1 -> 2.05 ± 0.6353.
  assert "| a - b | NLL, importance-weighted, nats | 2 | +1.50 | 0.71 | [-4.85, 7.85] | no |" in text
  assert "| a - b | KL, nats | 2 | +2.050 | 0.071 | [1.415, 2.685] | yes |" in text
  assert "| a - c | NLL, importance-weighted, nats | 1 | +10.00 | - | n = 1, no interval | - |" in text
  assert "| a | 2 | 1.5 ± 0.7 |" in text  # training minutes: 2.0 and 1.0; seed 2 has no metrics.jsonl
  assert f"`dvae study report {FIXTURES / 'fixture.py'} --runs {FIXTURES} --out {tmp_path}`" in text
  rows = list(csv.DictReader((tmp_path / "runs.csv").open()))
  assert [(row["group"], row["seed"]) for row in rows] == [
    ("a", "0"),
    ("b", "0"),
    ("c", "0"),
    ("a", "1"),
    ("b", "1"),
    ("a", "2"),
  ]
  assert rows[0] == {**rows[0], "iw_nll_nats": "100.0", "iw_samples": "10", "kl_nats": "10.0", "train_minutes": "2.0"}
  assert rows[1]["train_minutes"] == "" and "split" not in rows[0]  # strings are no numbers


def test_a_per_seed_table_has_a_row_for_each_run():
  study = dataclasses.replace(
    load_study(FIXTURES / "fixture.py"), tables=[Table(["iw_nll_nats", "kl_nats"], groups=["b"], per_seed=True)]
  )
  text = report.format_readme(study, report.collect(study, FIXTURES), runs_root=FIXTURES, command="dvae study report")
  assert "| b | 0, 1 | 2 | 99.50 ± 0.71 | 8.4500 ± 0.6364 |" in text
  assert "| b: seed 0 | 0 | 1 | 99.00 | 8.0000 |\n| b: seed 1 | 1 | 1 | 100.00 | 8.9000 |" in text


def test_report_without_finished_runs_is_an_error(tmp_path):
  with pytest.raises(WorkdirError, match="no finished run of study fixture in"):
    report.write_report(load_study(FIXTURES / "fixture.py"), tmp_path, command="dvae study report")


# ---------------------------------------------------------------- the study file and the commands of its runs


def test_grid_seeds_and_the_commands_of_each_run(tmp_path):
  study = Study(
    "grid",
    {
      "judge": Group("mnist_classifier:smoke", seeds=(3,)),
      "vae": Group("mnist_vae:smoke", {"train.num_epochs": 1}, grid={"model.latent_dim": [4, 8]}),
    },
    seeds=(0, 1),
    overrides={"eval.iw_samples": 2},
    classifier="judge",
    tables=(Table(["iw_nll_nats"], comparisons=["vae-latent_dim=8 - vae-latent_dim=4"], groups=["vae"]),),
  )
  runs = spec.runs(study, tmp_path)
  # The classifier first; then seed by seed, so that a study stopped halfway has complete pairs.
  assert [run.name for run in runs] == [
    "judge seed 3",
    "vae-latent_dim=4 seed 0",
    "vae-latent_dim=8 seed 0",
    "vae-latent_dim=4 seed 1",
    "vae-latent_dim=8 seed 1",
  ]
  assert spec.table_groups(study, study.tables[0]) == ["vae-latent_dim=4", "vae-latent_dim=8"]
  workdir = tmp_path / "grid" / "vae-latent_dim=8" / "seed1"
  assert runner.arguments(runs[4]) == {
    "train": ["train", "--config", "mnist_vae:smoke", "--workdir", str(workdir), "--config.seed=1"]
    + ["--config.eval.iw_samples=2", "--config.train.num_epochs=1", "--config.model.latent_dim=8"],
    "evaluate": ["evaluate", "--workdir", str(workdir), "--iw_samples=2"]
    + [f"--classifier_workdir={tmp_path / 'grid' / 'judge' / 'seed3'}"],
  }
  assert runner.arguments(runs[0])["evaluate"] == ["evaluate", "--workdir", str(runs[0].workdir), "--iw_samples=2"]


def test_override_values_read_back_as_the_config_flags_parse_them():
  assert flags.IntegerParser().parse(runner.flag_value(64)) == 64
  assert flags.FloatParser().parse(runner.flag_value(1e-05)) == 1e-05
  assert flags.BooleanParser().parse(runner.flag_value(False)) is False
  assert tuple_parser.TupleParser().parse(runner.flag_value([8, 16])) == (8, 16)
  assert runner.flag_value("bce") == "bce"


@pytest.mark.parametrize(
  "groups, tables, message",
  [
    ({"a": Group("x", {"seed": 1})}, (), "config.seed is set by the seeds"),
    ({"a": Group("x", {"data.train_limit": None})}, (), "a command-line override cannot unset a key"),
    ({"a": Group("x", seeds=(1, 1))}, (), r"seeds \[1, 1\]: expected distinct integers"),
    ({"a": Group("x", classifier="b")}, (), "classifier 'b' is not a group of the study"),
    (
      {"a": Group("x", classifier="b"), "b": Group("y", classifier="a")},
      (),
      "names a classifier of its own",
    ),
    ({"a": Group("x")}, (Table(["m"], comparisons=["a - b"]),), "'b' is not a group of the study"),
    ({"a": Group("x")}, (Table(["m"], comparisons=["a minus b"]),), "expected 'A - B'"),
  ],
)
def test_a_study_is_checked_when_built(groups, tables, message):
  with pytest.raises(ConfigError, match=message):
    Study("bad", groups, seeds=(0,), tables=tables)


@pytest.mark.parametrize(
  "curve, message",
  [
    (spec.Curve("m", ["a"], "T", "m", split="test"), "split 'test': expected one of"),
    (spec.Curve("m", ["a"], "T", "m", reference={"b": {1: 1.0}}), r"reference for \['b'\], not among its groups"),
    (spec.Curve("m", ["z"], "T", "m"), "'z' is not a group of the study"),
    (spec.Curve("m", ["a"], "?!", "m"), "a title that names it alone"),
  ],
)
def test_a_studys_curves_are_checked_when_built(curve, message):
  with pytest.raises(ConfigError, match=message):
    Study("bad", {"a": Group("x")}, seeds=(0,), curves=(curve,))


def _write_run(workdir: pathlib.Path, records: list[dict]) -> None:
  workdir.mkdir(parents=True)
  (workdir / "eval_test.json").write_text(json.dumps({"split": "test", "step": 10, "kl_nats": 1.0}))
  (workdir / "metrics.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))


def test_epoch_series_weights_each_logged_window_by_its_steps(tmp_path):
  """Epoch 1: windows of 3 and 2 steps (means 2.0 and 4.0) -> 2.8; epoch 2: 1.0 and 3.0 -> 1.8; the
  unfinished epoch 3 is left out. Validation records give their own values."""
  from dvae_jax.metric_writer import epoch_series

  _write_run(
    tmp_path / "run",
    [
      {"step": 3, "split": "train", "m": 2.0},
      {"step": 5, "split": "train", "m": 4.0},
      {"step": 5, "split": "valid", "epoch": 1.0, "m": 7.0},
      {"step": 8, "split": "train", "m": 1.0},
      {"step": 10, "split": "train", "m": 3.0},
      {"step": 10, "split": "valid", "epoch": 2.0, "m": 6.0},
      {"step": 12, "split": "train", "m": 9.0},
    ],
  )
  assert epoch_series(tmp_path / "run", "m") == pytest.approx({1: 2.8, 2: 1.8})
  assert epoch_series(tmp_path / "run", "m", "valid") == {1: 7.0, 2: 6.0}


def test_a_curve_is_reported_beside_its_reference_with_gaps_and_a_figure(tmp_path):
  """Seeds 0 and 1 of group a: per-epoch means (2.8, 1.8) and (3.2, 1.4), beside the reference (3.0, 1.5):
  epoch 1 mean 3.0 ± 0.2828, gap 0; epoch 2 mean 1.6 ± 0.2828, gap +6.67%; each time one seed below."""

  def records(first: float, second: float) -> list[dict]:
    return [
      {"step": 5, "split": "train", "m": first},
      {"step": 5, "split": "epoch", "epoch": 1, "epoch_seconds": 1.0},
      {"step": 10, "split": "train", "m": second},
      {"step": 10, "split": "epoch", "epoch": 2, "epoch_seconds": 1.0},
    ]

  _write_run(tmp_path / "runs" / "curves" / "a" / "seed0", records(2.8, 1.8))
  _write_run(tmp_path / "runs" / "curves" / "a" / "seed1", records(3.2, 1.4))
  reference = {"a": {1: 3.0, 2: 1.5}}
  curve = spec.Curve("m", ["a"], "The m curve", "m, nats", reference=reference, reference_label="ref", seed_epochs=(2,))
  study = Study("curves", {"a": Group("mnist_vae:smoke")}, seeds=(0, 1), curves=(curve,))
  written = report.write_report(study, tmp_path / "runs", tmp_path / "out", command="dvae study report")
  text = (tmp_path / "out" / "README.md").read_text()
  assert "| epoch | a, mean ± sd | ref | gap, % | seeds below |" in text
  assert "| 1 | 3.0000 ± 0.2828 | 3.0000 | +0.00 | 1 of 2 |" in text
  assert "| 2 | 1.6000 ± 0.2828 | 1.5000 | +6.67 | 1 of 2 |" in text
  assert "a: the largest relative gap to the ref is +6.67% (epoch 2); at 2 of 2 referenced epochs" in text
  assert "| seed | epoch 2 |\n| --- | --- |\n| 0 | 1.8000 |\n| 1 | 1.4000 |" in text
  assert tmp_path / "out" / "curve_the_m_curve.png" in written
  assert (tmp_path / "out" / "curve_the_m_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_an_unknown_study_or_variant_names_what_was_tried():
  with pytest.raises(ConfigError, match=r"no study 'smok': tried experiments/studies/smok.py"):
    load_study("smok")
  with pytest.raises(ConfigError, match=r"unknown study variant 'slow'; valid variants: \['quick'\]"):
    load_study("smoke:slow")


# ---------------------------------------------------------------- the launcher's scheduling, on a fake backend


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


def _planned(study: Study, root: pathlib.Path, finished=()) -> list[runner.Planned]:
  return [
    runner.Planned(i, run, runner.arguments(run), run.name in finished)
    for i, run in enumerate(spec.runs(study, root), start=1)
  ]


def test_launch_reports_each_run_goes_on_after_a_failure_and_skips_what_needs_a_failed_classifier(tmp_path):
  groups = {"judge": Group("j", seeds=(0,)), "vae": Group("v", classifier="judge"), "ae": Group("a")}
  planned = _planned(Study("s", groups, seeds=(0, 1)), tmp_path, finished={"ae seed 1"})
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
  planned = _planned(Study("s", {"ae": Group("a"), "slow": Group("v")}, seeds=(0, 1)), tmp_path, {"ae seed 1"})
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


def test_local_processes_pass_a_sigterm_on_and_wait_for_the_runs_to_checkpoint(tmp_path):
  """A SIGTERM to the launcher alone (a scheduler's, or `kill`) reaches its runs only through it. Stand-ins for
  `dvae train`: one checkpoints (exit 75, as `dvae train` on SIGTERM), one is killed before it can."""
  code = "import signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(75)); print(1, flush=True); "
  trains = subprocess.Popen([sys.executable, "-c", code + "time.sleep(60)"], stdout=subprocess.PIPE)
  starts = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
  assert trains.stdout.readline() == b"1\n"  # its handler is installed
  first, second = _planned(Study("s", {"a": Group("x")}, seeds=(0, 1)), tmp_path)
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


# ---------------------------------------------------------------- the smoke study, for real


@pytest.fixture(scope="module")
def study_environment(shared_data):
  """What a study's processes see: one CPU device as for a user, and the tests' compilation cache."""
  with study_process_environment(pytest.MonkeyPatch(), shared_data):
    yield


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


def test_study_help_and_flags_of_another_subcommand(capsys):
  assert main.invoke("study", "--help") == 0
  assert "--launcher" in capsys.readouterr().out
  assert main.invoke("study", "report", QUICK, "--jobs", "2") == 1
  assert "--jobs: not a flag of `dvae study report`" in capsys.readouterr().err
  assert main.invoke("study", "run", QUICK, "--partition", "gpu") == 1
  assert "--partition: only with --launcher slurm" in capsys.readouterr().err
  assert main.invoke("study", "walk", QUICK) == 1
  assert main.invoke("train", "--jobs", "2") == 1  # a study flag is refused by the other commands


def test_the_example_study_and_its_variant_load():
  study, quick = load_study("smoke"), load_study(QUICK)
  assert (study.name, list(study.groups), tuple(study.seeds)) == ("smoke", ["vae", "dvae"], (0, 1))
  assert study.tables[0].pairs() == [("dvae", "vae")]
  assert (quick.name, tuple(quick.seeds)) == ("smoke_quick", (0,))


def test_the_learnable_loss_sweeps_smoke_study_trains_and_reports(
  study_environment, face_folder, tmp_path, monkeypatch
):
  """The face sweeps' smoke form, for real: every knob's run trains and evaluates on a generated folder at
  runs/faces (the study's relative path), and the report compares each with the baseline."""
  monkeypatch.chdir(tmp_path)
  (tmp_path / "runs").mkdir()
  (tmp_path / "runs" / "faces").symlink_to(face_folder)
  study = load_study(str(REPO / "experiments" / "studies" / "learnable_loss_sweeps.py") + ":smoke")
  out = io.StringIO()
  assert runner.run_study(study, tmp_path / "runs", out=out) == 0, out.getvalue()
  report.write_report(study, tmp_path / "runs", tmp_path / "results", command="dvae study report (test)")
  text = (tmp_path / "results" / "README.md").read_text()
  for comparison in ("disc_weight_50 - baseline", "solo_1 - baseline"):
    assert f"| {comparison} | PSNR, dB | 1 |" in text
