"""The library from Python, as the README's example and docstrings promise: a training step on a
host batch, and a restored run that encodes, decodes, reconstructs and samples images as the
dataset stores them, refusing anything else."""

import itertools

import jax
import numpy as np
import pytest

import dvae_jax
from dvae_jax.data import Batch, train_batches
from dvae_jax.experiment import build_experiment
from dvae_jax.inference import Run


@pytest.fixture(scope="module")
def experiment(tiny_config):
  return build_experiment(tiny_config(family="vae"))


def test_a_step_on_a_host_batch(experiment):
  state = experiment.init_state()
  state, metrics = experiment.train_step(state, experiment.device_batch("train", np.arange(16)[None]))
  assert int(state.step) == 1 and metrics["loss"].shape == (1,) and np.isfinite(metrics["loss"]).all()
  sums, count = experiment.eval_step(state, experiment.device_batch("valid", np.arange(32)), jax.random.key(0))
  assert float(count) == 32 and np.isfinite(float(sums["neg_elbo_nats"]))
  images = experiment.splits.test.take(np.arange(4))
  with pytest.raises(KeyError, match="needs the keys 'image', 'label' and 'id'"):
    experiment.prepare({"image": images["image"], "label": images["label"]})


def test_a_run_takes_images_as_stored_and_refuses_others(experiment, tmp_path):
  run = Run(tmp_path, experiment, experiment.init_state(), 0)
  images = run.split("test").take(np.arange(4))["image"]  # uint8 [4, 28, 28, 1]
  mean, logvar = run.encode(images)
  assert mean.shape == logvar.shape == (4, experiment.hparams.latent_dim)
  # The same as encoding the preprocessed inputs, i.e. not the raw 0-255 pixels.
  inputs = run.inputs(images)
  assert inputs.dtype == np.float32 and 0.0 <= float(inputs.min()) and float(inputs.max()) <= 1.0
  assert run.reconstruct(images).shape == images.shape and run.sample(3).shape == (3, *images.shape[1:])
  assert run.decode(np.zeros((2, experiment.hparams.latent_dim))).shape == (2, *images.shape[1:])
  with pytest.raises(ValueError, match=r"expected images as the dataset stores them: uint8 \[N, 28, 28, 1\]"):
    run.encode(images.astype(np.float32) / 255.0)
  with pytest.raises(ValueError, match="uint8"):
    run.encode(images[..., 0])  # no channel axis


def test_the_package_exports_its_entry_points():
  assert dvae_jax.load_experiment("mnist_vae:smoke").train.num_epochs == 2
  assert callable(dvae_jax.train_and_evaluate) and callable(dvae_jax.restore_run)
  with pytest.raises(AttributeError, match="no attribute 'trian'"):
    dvae_jax.trian  # noqa: B018


# ---------------------------------------------------------------- misspelt keys and batch shapes (from Python)


@pytest.mark.parametrize(
  "section,key,nearest",
  [
    ("optim", "learning_rat", "learning_rate"),
    ("train", "num_epoch", "num_epochs"),
    ("data", "train_limt", "train_limit"),
  ],
)
def test_a_misspelt_key_of_a_loaded_experiment_is_refused(section, key, nearest):
  """The bug report: these trained at the defaults without a word, and config.json recorded them."""
  config = dvae_jax.load_experiment("mnist_vae:smoke")
  with pytest.raises(
    dvae_jax.configs.ConfigError, match=rf"^config\.{section} has no key '{key}' \(did you mean '{nearest}'"
  ):
    setattr(config[section], key, 3)


def test_a_step_refuses_a_batch_shaped_for_the_other_step(experiment):
  state = experiment.init_state()
  with pytest.raises(
    ValueError, match=r"train_step takes a batch of k steps .* labels have shape \(16,\), built from a 1-D"
  ):
    experiment.train_step(state, experiment.device_batch("train", np.arange(16)))
  # Refused before the call: the state was not donated, and trains on.
  state, _ = experiment.train_step(state, experiment.device_batch("train", np.arange(16)[None]))
  assert int(state.step) == 1
  with pytest.raises(ValueError, match=r"eval_step takes one batch of B images.* shape \(1, 32\), built from a 2-D"):
    experiment.eval_step(state, experiment.device_batch("valid", np.arange(32)[None]), jax.random.key(0))
  with pytest.raises(
    ValueError, match=r"device_batch takes an index \[B\] .* or \[k, B\] .* given an index of shape \(\)"
  ):
    experiment.device_batch("train", np.int64(3))


# ---------------------------------------------------------------- the training split on the devices


def _first_chunks(experiment, count: int = 2) -> list[Batch]:
  """The rows of the first `count` dispatches of two steps, as `dvae train` makes them."""
  chunks = train_batches(
    experiment.splits.train, key=experiment.keys["data"], epoch=0, batch_size=16, start_step=0, steps_per_dispatch=2
  )
  return [rows for _, rows in itertools.islice(chunks, count)]


@pytest.mark.parametrize("num_devices", [1, 4])
def test_rows_trained_on_the_device_train_as_the_host_batches(tiny_config, num_devices):
  """data.on_device: train_step on rows not yet gathered (what `dvae train` passes) gathers them
  inside the step from the split on the devices, or else on the host; the states after two
  dispatches of two steps equal each other's, and those of the built batches, bit for bit."""
  final = {}
  for on_device in (True, False):
    config = tiny_config(family="vae", num_devices=num_devices, data__binarize="static", data__on_device=on_device)
    experiment = build_experiment(config)
    assert (experiment.train_on_device is not None) == on_device
    for form in ("rows", "built"):
      state = experiment.init_state()
      for rows in _first_chunks(experiment):
        batch = rows if form == "rows" else experiment.device_batch("train", rows.index)
        state, _ = experiment.train_step(state, batch)
      final[on_device, form] = jax.device_get(state)
    assert experiment.traces["train"] == 1 + on_device  # on the device, rows and built batches: two programs
  for key in ((True, "built"), (False, "rows"), (False, "built")):
    for expected, actual in zip(jax.tree.leaves(final[True, "rows"]), jax.tree.leaves(final[key]), strict=True):
      np.testing.assert_array_equal(expected, actual)


def test_auto_keeps_the_training_split_on_the_device_when_it_fits(experiment, monkeypatch):
  from dvae_jax import experiment as experiment_module
  from dvae_jax import parallel

  split = experiment.splits.train
  assert experiment.train_on_device is not None  # tiny_config: "auto", a few kilobytes
  assert experiment_module.keep_on_device("auto", split, experiment.mesh)
  monkeypatch.setattr(parallel, "device_memory_bytes", lambda mesh: 4 * split.input_bytes - 1)
  assert not experiment_module.keep_on_device("auto", split, experiment.mesh)
  assert experiment_module.keep_on_device(True, split, experiment.mesh)


def test_the_steps_refuse_rows_shaped_for_the_other_step(experiment):
  state = experiment.init_state()
  with pytest.raises(ValueError, match=r"train_step takes .* rows whose index has shape \(16,\), built from a 1-D"):
    experiment.train_step(state, Batch(experiment.splits.train, np.arange(16)))
  sums, count = experiment.eval_step(state, Batch(experiment.splits.valid, np.arange(32)), jax.random.key(0))
  expected, _ = experiment.eval_step(state, experiment.device_batch("valid", np.arange(32)), jax.random.key(0))
  assert float(count) == 32 and float(sums["neg_elbo_nats"]) == float(expected["neg_elbo_nats"])


# ---------------------------------------------------------------- a run's errors, a state saved by hand, a rerun


def test_a_run_names_the_code_size_and_the_splits_it_expects(experiment, tmp_path):
  run = Run(tmp_path, experiment, experiment.init_state(), 0)
  latent = experiment.hparams.latent_dim
  assert run.latent_dim == latent
  with pytest.raises(ValueError, match=rf"expects codes of shape \[N, {latent}\] .* got shape \[2, {latent + 1}\]"):
    run.decode(np.zeros((2, latent + 1)))
  with pytest.raises(ValueError, match=rf"got shape \[{latent}\]"):
    run.decode(np.zeros(latent))  # one code without its batch axis
  with pytest.raises(ValueError, match=r"run.split\('validation'\): no such split; expected one of 'train', 'valid'"):
    run.split("validation")


def test_a_state_stepped_by_hand_is_saved_as_a_checkpoint_of_the_run(experiment, tmp_path):
  state = experiment.init_state()
  for rows in np.arange(32).reshape(2, 1, 16):
    state, _ = experiment.train_step(state, experiment.device_batch("train", rows))
  assert dvae_jax.save_checkpoint(experiment, state, tmp_path) == 2
  run = dvae_jax.restore_run(tmp_path)  # config.json and the checkpoint, digests checked
  assert run.step == 2
  for saved, restored in zip(jax.tree.leaves(state), jax.tree.leaves(run.state), strict=True):
    np.testing.assert_array_equal(np.asarray(saved), np.asarray(restored))


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
