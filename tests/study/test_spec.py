"""study/spec.py: what a study declares, checked when built: its groups (a grid, seeds, the study's overrides under
a group's own, the evaluation keys it may set, a group that starts from another's run), its tables and curves, and
the commands of each run."""

import pytest

from dvae_jax.configs import ConfigError
from dvae_jax.study import Group, Study, Table, load_study, runner, spec


def test_a_group_starts_from_the_run_of_its_seed_in_another(tmp_path):
  study = load_study("vade:smoke")
  runs = spec.runs(study, tmp_path)
  assert [run.name for run in runs] == ["pretrain seed 0", "vade seed 0"]
  assert runs[1].init_workdir == runs[0].workdir == tmp_path / "vade_smoke" / "pretrain" / "seed0"
  assert f"--config.init_workdir={runs[0].workdir}" in runner.arguments(runs[1])["train"]
  with pytest.raises(ConfigError, match="init_from 'missing' is not a group of the study"):
    Study("s", {"a": Group("mnist_vae", init_from="missing")})
  with pytest.raises(ConfigError, match=r"init_from 'a' has no run with seed \[1\]"):
    Study("s", {"a": Group("mnist_vae", seeds=(0,)), "b": Group("mnist_vae", seeds=(0, 1), init_from="a")})


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


def test_a_study_sets_only_the_evaluation_keys_dvae_evaluate_takes():
  with pytest.raises(ConfigError, match=r"eval.iw_batch_size: a study sets the evaluation through eval.iw_sa"):
    Study("s", {"vae": Group("mnist_vae:smoke")}, overrides={"eval.iw_batch_size": 8})


def test_a_group_s_own_overrides_win_over_the_study_s():
  study = Study("s", {"vae": Group("mnist_vae:smoke", {"eval.iw_samples": 5})}, overrides={"eval.iw_samples": 2})
  assert spec.expand_groups(study)["vae"].overrides == {"eval.iw_samples": 5}
