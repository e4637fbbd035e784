"""`check_repro`: the reproducibility report passes on a sound config and names the check a broken one fails."""

import json

import jax
import numpy as np
import pytest

from dvae_jax import experiment, repro
from dvae_jax.experiment import build_experiment, module_rngs


def _by_name(report: dict) -> dict[str, dict]:
  return {check["name"]: check for check in report["checks"]}


def test_check_repro_passes_and_reports_each_check(tiny_config, tmp_path):
  config = tiny_config(family="vae")  # 128 images, batch 16: 8 steps
  report = repro.check_repro(config, tmp_path, steps=8)
  checks = _by_name(report)
  assert list(checks) == ["same_seed", "resume", "devices", "steps_per_dispatch"]
  assert all(check["passed"] for check in checks.values()), report
  assert report["steps"] == 8 and report["devices"] == len(jax.local_devices()) == 4
  assert checks["same_seed"]["measured"].startswith("identical:")
  assert checks["resume"]["details"]["differing_leaves"] == 0
  # 1 vs 4 devices: the first step's loss sees the same parameters and batch, summed in another order.
  devices = checks["devices"]["details"]
  assert devices["first_window"]["end_step"] == 1 and devices["first_window"]["relative"] <= repro.LOSS_TOLERANCE
  assert set(devices["params"]) == set(build_experiment(config).init_state().params)
  dispatch = checks["steps_per_dispatch"]["details"]["first_window"]
  assert dispatch["end_step"] == repro.DISPATCH_STEPS and dispatch["relative"] <= repro.LOSS_TOLERANCE
  assert json.loads((tmp_path / "check_repro.json").read_text())["checks"][0]["name"] == "same_seed"
  table = repro.format_report(report)
  assert "CPU (4 devices): XLA's CPU kernels are deterministic; no flag is needed." in table
  assert [line.split()[0] for line in table.splitlines()[4:8]] == list(checks)
  assert all(line.rstrip().endswith("pass") for line in table.splitlines()[4:8])


@pytest.mark.parametrize("limit,steps,epochs", [(None, 24, 1), (512, 24, 1), (256, 24, 2), (64, 8, 2)])
def test_short_config_runs_whole_epochs_of_at_least_the_steps(tiny_config, limit, steps, epochs):
  config = tiny_config(data__train_limit=limit)  # batch 16
  short = repro.short_config(config, steps)
  assert short.train.num_epochs == epochs
  assert short.data.train_limit == min(limit or steps * 16, steps * 16)
  assert short.train.log_every_steps == 1 and short.train.grid_images == 0
  assert config.train.num_epochs == 1  # the caller's config is unchanged


def test_an_unseeded_draw_fails_the_command(tmp_path, shared_data, monkeypatch, capsys):
  """`dvae check-repro` as a user runs it (in this process) on a model whose dropout/noise key is
  derived from an unseeded generator at trace time (a common slip: np.random in a model)."""
  from dvae_jax import main
  from tests.helpers import REPO

  seeded = module_rngs
  monkeypatch.setattr(
    experiment, "module_rngs", lambda key: seeded(jax.random.fold_in(key, int(np.random.default_rng().integers(2**31))))
  )
  monkeypatch.setenv("DVAE_DATA_DIR", str(shared_data))
  monkeypatch.chdir(REPO)
  overrides = ("--config.data.train_limit=64", "--config.train.batch_size=16", "--config.train.eval_batch_size=16")
  status = main.invoke(
    "check-repro",
    "--config",
    "experiments/mnist_vae_flax.py:smoke",
    "--workdir",
    str(tmp_path),
    "--steps",
    "4",
    *overrides,
  )
  out = capsys.readouterr()
  assert status == 1
  assert "same_seed" in out.out and "FAIL" in out.out  # the table
  assert "reproducibility check(s) failed: same_seed, resume" in out.err
  checks = _by_name(json.loads((tmp_path / "check_repro.json").read_text()))
  assert not checks["same_seed"]["passed"] and not checks["resume"]["passed"]
  assert "state leaves differ" in checks["same_seed"]["measured"]
