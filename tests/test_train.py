"""train.py, the training loop end to end on a slice of real MNIST: pulse, determinism, resume, devices, a rerun
of a finished training, and a forced divergence stopped by the non-finite guard."""

import json
import pathlib
import shutil
import time

import jax
import numpy as np
import pytest

from dvae_jax import evaluate, train
from dvae_jax.checkpoint import Checkpointer, CheckpointError
from dvae_jax.experiment import build_experiment
from dvae_jax.metric_writer import read_metrics, reproducible_records
from tests.helpers import assert_trees_equal, final_state, smoke_config

STEPS_PER_EPOCH = 8  # 128 training images, batch 16


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, request):
  """Two epochs, checkpoints every 3 steps (kept), on one device."""
  make = request.getfixturevalue("tiny_config")
  config = make(train__num_epochs=2, train__checkpoint_every_steps=3, train__max_checkpoints=20)
  workdir = tmp_path_factory.mktemp("reference")
  experiment = build_experiment(config)
  valid = train.run_training(experiment, workdir)
  return config, workdir, experiment, valid


def test_pulse_writes_metrics_checkpoint_and_grid(tiny_config, tmp_path):
  config = tiny_config(data__train_limit=32)  # two steps of 16 real MNIST images
  valid = train.train_and_evaluate(config, tmp_path)
  assert np.isfinite(list(valid.values())).all()
  assert {"kl_nats", "recon_nats", "dae_recon_nats", "reference_loss", "label_error"} <= set(valid)
  records = read_metrics(tmp_path)
  assert [(r["step"], r["split"]) for r in records] == [(2, "train"), (2, "valid")]
  assert records[0]["learning_rate"] == pytest.approx(1e-3)
  assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
  assert Checkpointer(tmp_path / "checkpoints").latest_step() == 2
  assert (tmp_path / "reconstructions.png").stat().st_size > 0
  assert json.loads((tmp_path / "config.json").read_text())["model"]["family"] == "dvae"


def test_train_step_traces_once(reference_run):
  _, _, experiment, _ = reference_run
  assert experiment.traces == {"train": 1, "eval": 1}


def test_same_seed_same_bits(reference_run, tmp_path):
  config, workdir, _, valid = reference_run
  assert train.train_and_evaluate(config, tmp_path) == valid
  assert reproducible_records(tmp_path) == reproducible_records(workdir)
  assert_trees_equal(final_state(config, tmp_path), final_state(config, workdir))


def test_resumed_run_equals_uninterrupted_run(reference_run, tmp_path):
  config, workdir, _, valid = reference_run
  # A run killed after its step-3 checkpoint (mid first epoch): later checkpoints never happened.
  shutil.copytree(workdir, tmp_path, dirs_exist_ok=True)
  for checkpoint in (tmp_path / "checkpoints").iterdir():
    if checkpoint.name.isdigit() and int(checkpoint.name) > 3:
      shutil.rmtree(checkpoint)
  assert train.train_and_evaluate(config, tmp_path) == valid
  assert reproducible_records(tmp_path) == reproducible_records(workdir)
  assert_trees_equal(final_state(config, tmp_path), final_state(config, workdir))


def _assert_same_training(expected, actual, *, first_rel: float, final_rel: float) -> None:
  """Same losses over the first logged window (steps 1-3), close final validation metrics."""
  (expected_dir, expected_valid), (actual_dir, actual_valid) = expected, actual
  first, first_actual = read_metrics(expected_dir)[0], read_metrics(actual_dir)[0]
  assert first["step"] == first_actual["step"] == 3
  for name in ("loss", "objective_nats", "recon_nats", "dae_recon_nats", "kl_nats", "label_ce_nats"):
    assert first_actual[name] == pytest.approx(first[name], rel=first_rel), name
  for name in ("reference_loss", "recon_nats", "dae_recon_nats", "objective_nats"):
    assert actual_valid[name] == pytest.approx(expected_valid[name], rel=final_rel), name


def test_steps_per_dispatch_computes_the_same_steps(reference_run, tiny_config, tmp_path):
  """Three steps per dispatch (an unrolled lax.scan) run the same steps on the same data and keys.

  Documented tolerance: XLA compiles and fuses the three unrolled steps as one program, unlike the
  single-step program, so the losses agree to float32 rounding (relative 1e-5 over steps 1-3), and
  after two epochs of Adam (which turns rounding-level differences in near-zero gradients into
  full-size updates) the validation metrics agree to 5%. Runs with the same steps_per_dispatch are
  bitwise identical.
  """
  config, workdir, _, valid = reference_run
  fused = tiny_config(train__num_epochs=2, train__checkpoint_every_steps=3, train__steps_per_dispatch=3)
  experiment = build_experiment(fused)
  fused_valid = train.run_training(experiment, tmp_path)
  # 8 steps per epoch in chunks of 3, 3, 2: one trace per chunk length.
  assert experiment.traces["train"] == 2
  _assert_same_training((workdir, valid), (tmp_path, fused_valid), first_rel=1e-5, final_rel=5e-2)
  assert train.train_and_evaluate(fused, tmp_path / "again") == fused_valid


def test_four_devices_agree_with_one(reference_run, tiny_config, tmp_path):
  """A batch sharded over 4 devices computes the same math as on 1 device.

  Documented tolerance: the random draws are identical (threefry is partitionable), and the sums
  over a sharded batch are reduced in another order; Adam turns rounding-level differences in
  near-zero gradient entries into full-size updates. The first logged window (steps 1-3) agrees to
  relative 2e-3: the label head's batch-normalized logits (the reference's) have a bias whose
  gradient is zero up to rounding, so their cross-entropy drifts first (measured 6.7e-4; the other
  terms 7e-5). After two epochs the validation metrics agree to 5%.
  """
  assert len(jax.devices()) >= 4
  config, workdir, _, valid = reference_run
  sharded = tiny_config(train__num_epochs=2, train__checkpoint_every_steps=3, num_devices=4)
  valid4 = train.train_and_evaluate(sharded, tmp_path)
  _assert_same_training((workdir, valid), (tmp_path, valid4), first_rel=2e-3, final_rel=5e-2)


def test_non_finite_loss_stops_with_the_metric_and_steps_named(tiny_config, tmp_path):
  # A Gaussian likelihood with std e^-60 makes the loss overflow to inf at the first step.
  config = tiny_config(model__likelihood="gaussian", model__gaussian_log_std=-60.0)
  with pytest.raises(
    train.NonFiniteError, match=r"'loss' is not finite at step 1 \(loss=inf.*no checkpoint had been written"
  ):
    train.train_and_evaluate(config, tmp_path)
  assert Checkpointer(tmp_path / "checkpoints").latest_step() is None


def _snapshot(directory: pathlib.Path) -> dict[str, tuple[int, int]]:
  """Every file's size and modification time, less the workdir lock, which each command takes and releases."""
  files = (p for p in directory.rglob("*") if p.name != ".lock")
  return {str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns) for p in files}


def test_checkpoint_of_another_model_is_refused_and_left_untouched(reference_run, tiny_config, tmp_path):
  _, workdir, _, _ = reference_run
  shutil.copytree(workdir, tmp_path, dirs_exist_ok=True)
  before = _snapshot(tmp_path)
  other = tiny_config(family="vae", train__num_epochs=2)
  with pytest.raises(CheckpointError, match=r"model.family: checkpoint has 'dvae', config has 'vae'"):
    train.train_and_evaluate(other, tmp_path)
  with pytest.raises(CheckpointError, match="different experiment"):
    evaluate.evaluate_checkpoint(tmp_path, config=other)
  assert _snapshot(tmp_path) == before


def test_resume_refuses_other_data_and_warns_of_other_optimizer_settings(reference_run, tiny_config, tmp_path, caplog):
  _, workdir, _, _ = reference_run
  shutil.copytree(workdir, tmp_path, dirs_exist_ok=True)
  other_data = tiny_config(train__num_epochs=2, data__train_limit=96)
  with pytest.raises(CheckpointError, match=r"data.train_limit: checkpoint has 128, config has 96"):
    train.train_and_evaluate(other_data, tmp_path)
  # The run is complete, so this resume restores and stops; a new learning rate is allowed, and said.
  other_optim = tiny_config(train__num_epochs=2, train__checkpoint_every_steps=3, optim__learning_rate=5e-4)
  train.train_and_evaluate(other_optim, tmp_path)
  assert "optim.learning_rate 0.001 -> 0.0005" in caplog.text


def test_evaluate_checkpoint_writes_test_metrics(reference_run, tmp_path):
  config, workdir, _, _ = reference_run
  shutil.copytree(workdir, tmp_path, dirs_exist_ok=True)
  result = evaluate.evaluate_checkpoint(tmp_path)
  assert result["step"] == 2 * STEPS_PER_EPOCH and result["num_examples"] == 64
  assert json.loads((tmp_path / "eval_test.json").read_text()) == result
  assert (tmp_path / "test_reconstructions.png").exists()
  # Deterministic: a second evaluation gives the same numbers.
  assert evaluate.evaluate_checkpoint(tmp_path) == result


def test_throughput_counts_training_time_only(tiny_config, tmp_path, monkeypatch):
  """Validation and checkpoint writes are timed apart, so they cannot drag images_per_second down."""
  real_evaluate = train.evaluate_split

  def slow_evaluate(*args, **kwargs):
    time.sleep(3.0)
    return real_evaluate(*args, **kwargs)

  monkeypatch.setattr(train, "evaluate_split", slow_evaluate)
  config = tiny_config(data__train_limit=64, train__num_epochs=2, train__log_every_steps=100)
  train.train_and_evaluate(config, tmp_path)
  first, second = [r for r in read_metrics(tmp_path) if r["split"] == "train"]
  assert first["step"] == 4 and second["step"] == 8  # 4 steps of 16 images per epoch
  assert first["compile_seconds"] > 0 and second["compile_seconds"] == 0
  # The second window follows the first validation (3 s of sleep) and checkpoint: both are
  # reported, and neither is in its 64 images' throughput (counted, it would be < 64 / 3 img/s).
  assert second["valid_seconds"] >= 3.0 and second["checkpoint_seconds"] > 0
  assert second["images_per_second"] > 64 / 3


def test_profile_steps_write_a_trace(tiny_config, tmp_path):
  config = tiny_config(family="vae", train__profile_start_step=2, train__profile_steps=2)
  train.train_and_evaluate(config, tmp_path)
  traces = list((tmp_path / "profile").rglob("*.xplane.pb"))
  assert len(traces) == 1 and traces[0].stat().st_size > 0
  assert list((tmp_path / "profile").rglob("*perfetto_trace.json.gz"))


def test_the_console_names_its_numbers_shows_epochs_and_times_training_only(tiny_config, tmp_path, monkeypatch, capsys):
  """The bar shows the epoch and the logged objective under its logged name; its rate and ETA leave
  compilation and validation out; each epoch prints one line with the validation headline."""
  bars, real = [], train._progress_bar
  monkeypatch.setattr(train, "_progress_bar", lambda enabled, **kw: bars.append(real(enabled, **kw)) or bars[-1])
  config = tiny_config(family="vae", data__train_limit=64, train__num_epochs=2, train__progress_bar=True)
  start = time.perf_counter()
  train.train_and_evaluate(config, tmp_path)
  wall = time.perf_counter() - start
  out, err = capsys.readouterr()
  lines = [line for line in out.splitlines() if line.startswith("epoch ")]
  assert [line.split(" (")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
  assert "validation: -ELBO (output likelihood), nats " in lines[0]
  assert "epoch 2/2" in err and "objective_nats=" in err and " loss=" not in err
  records = read_metrics(tmp_path)
  excluded = sum(r.get(k, 0.0) for r in records for k in ("compile_seconds", "valid_seconds", "checkpoint_seconds"))
  assert excluded > 0
  shown = bars[0].last_print_t - bars[0].start_t  # the elapsed time of the bar's last line
  assert shown <= wall - excluded + 0.5, (shown, wall, excluded)


def test_rerunning_a_finished_training_does_nothing_and_says_so(tiny_config, tmp_path, monkeypatch, caplog):
  from dvae_jax import train

  config = tiny_config(family="vae")
  valid = train.train_and_evaluate(config, tmp_path)
  before = sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.rglob("*") if p.is_file() and p.name != ".lock")

  def no_evaluation(*args, **kwargs):
    raise AssertionError("a finished run was validated again")

  monkeypatch.setattr(train, "evaluate_split", no_evaluation)
  monkeypatch.setattr("dvae_jax.figures.save_reconstructions", no_evaluation)
  with caplog.at_level("INFO"):
    again = train.train_and_evaluate(config, tmp_path)
  assert again == pytest.approx(valid, rel=1e-6)  # read back from metrics.jsonl
  assert any(
    "already trained to step 8 (train.num_epochs=1): nothing left to do" in r.getMessage() for r in caplog.records
  )
  after = sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.rglob("*") if p.is_file() and p.name != ".lock")
  assert after == before


@pytest.mark.parametrize(("name", "variant"), [("cifar10_mlp_vae", "grayscale,smoke"), ("cifar10_conv_vae", "smoke")])
def test_forced_divergence_raises_the_non_finite_error(name, variant, cifar_data, tmp_path):
  # The first non-finite metric is named: the loss for the MLP, the gradient norm (loss still finite) for the conv net.
  config = smoke_config(name, variant, data__dir=str(cifar_data), optim__learning_rate=1e3)
  with pytest.raises(train.NonFiniteError, match=r"metric '\w+' is not finite at step \d+ \(\w+=(nan|inf|-inf)"):
    train.train_and_evaluate(config, tmp_path)
