"""study/provenance.py: what a study's runs recorded against what the study file asks, on hand-made workdirs: a
config.json as `dvae train` writes it and an eval_test.json as `dvae evaluate` does. No training: configs only
(seconds). The smoke study's real runs are checked in tests/study/test_runner.py."""

import json
import pathlib

import pytest

from dvae_jax import configs
from dvae_jax.study import Group, Study, provenance, report, runner, spec

SMALL = {"data.train_limit": 64, "train.num_epochs": 2, "optim.learning_rate": 0.001}
SAMPLING = {"eval.iw_samples": 2, "eval.iw_limit": 16}


def _study(seeds=(0,), evaluation: dict = SAMPLING) -> Study:
  return Study("s", {"vae": Group("mnist_vae:smoke", SMALL)}, seeds=seeds, overrides=evaluation)


def _run(tmp_path: pathlib.Path, evaluation: dict = SAMPLING) -> spec.StudyRun:
  return spec.runs(_study(evaluation=evaluation), tmp_path)[0]


def _record(run: spec.StudyRun, *, epoch: float = 2.0, iw_samples: int = 2, config: dict | None = None) -> None:
  """The files of a finished run, trained as the study asks unless `config` (dotted key -> value) says otherwise."""
  trained = provenance.requested_config(run)
  for key, value in (config or {}).items():
    trained.update_from_flattened_dict({key: value})
  run.workdir.mkdir(parents=True)
  configs.write_config(trained, run.workdir)
  evaluation = {"split": "test", "step": int(epoch * 4), "epoch": epoch, "num_examples": 64}
  evaluation |= {"iw_samples": iw_samples, "iw_num_examples": 16, "iw_nll_nats": 100.0}
  (run.workdir / "eval_test.json").write_text(json.dumps(evaluation))


def test_a_run_recorded_as_asked_has_no_differences(tmp_path):
  run = _run(tmp_path)
  _record(run)
  recorded = provenance.check(run)
  assert recorded.differences == ()
  assert provenance.setting(recorded.config, "train.num_epochs") == 2 and recorded.evaluation["epoch"] == 2.0


def test_a_run_without_a_config_json_is_not_checked(tmp_path):
  run = _run(tmp_path)
  _record(run, epoch=1.0)
  (run.workdir / "config.json").unlink()
  recorded = provenance.check(run)
  assert (recorded.config, recorded.differences) == (None, ())


@pytest.mark.parametrize(
  "recorded, differences, fix",
  [
    ({"config": {"train.num_epochs": 1}, "epoch": 1.0}, ["train.num_epochs 1 -> 2"], "train on from its checkpoint"),
    ({"config": {"train.num_epochs": 3}, "epoch": 3.0}, ["train.num_epochs 3 -> 2"], "train it anew"),
    ({"config": {"optim.learning_rate": 0.01}}, ["optim.learning_rate 0.01 -> 0.001"], "train it anew"),
    ({"config": {"data.train_limit": 128}}, ["data.train_limit 128 -> 64"], "train it anew"),
    ({"epoch": 1.0}, ["eval_test.json epoch 1.0 -> 2"], "evaluate it again"),  # trained on after its evaluation
    ({"iw_samples": 20}, ["eval_test.json iw_samples 20 -> 2"], "evaluate it again"),
  ],
)
def test_each_difference_is_named_with_how_to_redo_the_run(tmp_path, recorded, differences, fix):
  run = _run(tmp_path)
  _record(run, **recorded)
  found = provenance.check(run)
  assert [str(d) for d in found.differences] == differences
  what, path = found.remedy
  assert what == fix
  assert path == (run.workdir if fix == "train it anew" else run.workdir / "eval_test.json")
  assert found.fix() == f"to {fix}: mv {path} {path}.old"


def test_the_experiment_s_own_evaluation_options_count_where_the_study_sets_none(tmp_path):
  run = _run(tmp_path, {})  # mnist_vae:smoke: eval.iw_samples 20, eval.iw_limit 64
  _record(run)
  assert [str(d) for d in provenance.check(run).differences] == [
    "eval_test.json iw_samples 2 -> 20",
    "eval_test.json iw_num_examples 16 -> 64",
  ]


def test_study_run_plans_a_differing_finished_run_as_not_done(tmp_path):
  run = _run(tmp_path)
  _record(run, config={"train.num_epochs": 1}, epoch=1.0)
  [planned] = runner.plan(_study(), tmp_path)
  assert planned.finished and not planned.done
  assert [str(d) for d in planned.differs.differences] == ["train.num_epochs 1 -> 2"]


def test_a_report_prints_the_settings_the_runs_recorded(tmp_path):
  study = _study(seeds=(0, 1))
  for run in spec.runs(study, tmp_path):
    _record(run)
  report.write_report(study, tmp_path, tmp_path / "out", command="dvae study report s")
  text = (tmp_path / "out" / "README.md").read_text()
  settings = "data.train_limit=64, train.num_epochs=2, optim.learning_rate=0.001"
  evaluated = "epoch 2 (step 8) | NLL: 2 importance samples on 16 images"
  assert f"| vae | `mnist_vae:smoke` | {settings} | 0, 1 | {evaluated} |" in text


def test_a_path_recorded_absolutely_is_the_path_a_study_names_relatively(tmp_path, monkeypatch):
  from dvae_jax.study.provenance import _resolved

  monkeypatch.chdir(tmp_path)
  recorded = {"init_workdir": str(tmp_path / "runs" / "pretrain" / "seed0"), "seed": 0}
  asked = {"init_workdir": "runs/pretrain/seed0", "seed": 0}
  assert _resolved(recorded) == _resolved(asked)
  assert _resolved({"init_workdir": "runs/other"}) != _resolved(asked)


def test_evaluation_overrides_go_to_dvae_evaluate_and_are_not_compared_as_training(tmp_path):
  """An eval.* override is the flag of `dvae evaluate` (and recorded by `dvae train`); a run whose config.json
  lacks it (trained before the study set it) is still as asked: eval_test.json says how it was evaluated."""
  run = _run(tmp_path, {"eval.iw_samples": 2, "eval.iw_limit": 16, "eval.recompute_batch_norm": 3})
  arguments = runner.arguments(run)
  assert arguments["evaluate"][3:] == ["--iw_samples=2", "--iw_limit=16", "--recompute_batch_norm=3"]
  assert "--config.eval.iw_samples=2" in arguments["train"]
  assert run.training_overrides == SMALL
  _record(run, config={"eval.iw_samples": 5000, "eval.iw_limit": 7, "eval.recompute_batch_norm": 0})
  assert provenance.check(run).differences == ()
