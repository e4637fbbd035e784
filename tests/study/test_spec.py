"""study/spec.py: a group that starts from the run of its seed in another group (VaDE after its pretraining)."""

import pytest

from dvae_jax.configs import ConfigError
from dvae_jax.study import Group, Study, load_study, runner, spec


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
