"""study/report.py: a report of hand-written runs (tests/fixtures/study/), its per-seed rows and per-epoch curves
beside a reference, and the error without finished runs."""

import csv
import dataclasses

import pytest

from dvae_jax import main
from dvae_jax.errors import WorkdirError
from dvae_jax.study import Group, Study, Table, load_study, report, spec
from tests.helpers import REPO, write_metrics_run

FIXTURES = REPO / "tests" / "fixtures" / "study"


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

  write_metrics_run(tmp_path / "runs" / "curves" / "a" / "seed0", records(2.8, 1.8))
  write_metrics_run(tmp_path / "runs" / "curves" / "a" / "seed1", records(3.2, 1.4))
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
