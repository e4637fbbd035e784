"""main.py, the `dvae` command as a user runs it: a smoke training, evaluation, configs, help, and clear errors
(a forced divergence's among them). The bad-input matrix of docs/reproducibility.md: tests/test_bad_input.py."""

import json
import re
import shutil

import pytest

from dvae_jax import main
from dvae_jax.checkpoint import Checkpointer
from tests.helpers import REPO, dvae


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, shared_data):
  workdir = tmp_path_factory.mktemp("smoke")
  result = dvae("train", "--config", "experiments/mnist_dvae.py:smoke", "--workdir", str(workdir), data_dir=shared_data)
  assert result.returncode == 0, result.stderr
  return workdir, result


def test_smoke_training_leaves_metrics_checkpoint_and_grid(smoke_run):
  workdir, result = smoke_run
  assert "validation reference 'KLD' (KL charged in training), nats" in result.stdout
  records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  assert {r["split"] for r in records} == {"train", "valid"}
  assert records[-1] == {**records[-1], "split": "valid", "step": 32, "epoch": 2}  # 512 / 32 = 16 steps x 2
  assert list((workdir / "tb").glob("events.out.tfevents.*"))
  assert (workdir / "checkpoints" / "32").is_dir()
  assert (workdir / "reconstructions.png").stat().st_size > 0
  from tensorboard.backend.event_processing import event_accumulator

  events = event_accumulator.EventAccumulator(str(workdir / "tb"), size_guidance={"images": 0})
  events.Reload()
  assert [e.step for e in events.Images("valid/reconstructions")] == [32]


def test_evaluate_prints_and_writes_test_metrics(smoke_run, shared_data, tmp_path):
  workdir, _ = smoke_run
  shutil.copytree(workdir, tmp_path, dirs_exist_ok=True)
  result = dvae("evaluate", "--workdir", str(tmp_path), data_dir=shared_data)
  assert result.returncode == 0, result.stderr
  metrics = json.loads((tmp_path / "eval_test.json").read_text())
  assert metrics["num_examples"] == 256 and metrics["split"] == "test"
  assert f"{metrics['reference_loss']:.4f}" in result.stdout and f"{metrics['kl_nats']:.4f}" in result.stdout
  # The headline leads with the bounds, and names the reference's own figures as such.
  headline = result.stdout.split("\n\n")[-1]
  first, second = headline.splitlines()[1:3]
  assert "-ELBO (output likelihood)" in first and f"{metrics['output_neg_elbo_nats']:.4f}" in first
  assert "NLL, importance-weighted" in second and f"{metrics['iw_nll_nats']:.4f}" in second
  assert "reference 'test loss' (output BCE + its L2; not an ELBO)" in headline
  assert (tmp_path / "test_reconstructions.png").exists()
  # TensorBoard gets the test metrics and the grid too, as a run of its own (tb/test), at the checkpoint's step.
  from tensorboard.backend.event_processing import event_accumulator

  events = event_accumulator.EventAccumulator(str(tmp_path / "tb" / "test"), size_guidance={"images": 0})
  events.Reload()
  assert [e.value for e in events.Scalars("test/kl_nats")] == [pytest.approx(metrics["kl_nats"])]
  assert [e.step for e in events.Scalars("test/iw_nll_nats")] == [metrics["step"]]
  assert "test/reconstructions" in events.Tags()["images"]


def test_data_download_command(serve, shared_data, tmp_path):
  mirror = serve(shared_data / "mnist")
  result = dvae("data", "download", "mnist", "--data_dir", str(tmp_path), "--mirror", mirror, data_dir=tmp_path)
  assert result.returncode == 0, result.stderr
  for name in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
    assert (tmp_path / "mnist" / name).read_bytes() == (shared_data / "mnist" / name).read_bytes()


def test_config_by_experiment_name_and_an_unknown_name(tmp_path, capsys):
  """`--config NAME[:variant]` resolves to experiments/NAME.py; an unknown name lists the files tried."""
  from dvae_jax import main

  resolved = main._resolve_config(["dvae", "--config", "mnist_vae:smoke", "--config=mnist_dvae", "--workdir", "w"])
  assert resolved == [
    "dvae",
    "--config",
    "experiments/mnist_vae.py:smoke",
    "--config=experiments/mnist_dvae.py",
    "--workdir",
    "w",
  ]
  assert main.invoke("train", "--config", "mnist_vea:smoke", "--workdir", str(tmp_path / "w")) == 1
  error = capsys.readouterr().err
  assert "--config mnist_vea:smoke: no experiment config 'mnist_vea': tried experiments/mnist_vea.py" in error
  assert not (tmp_path / "w").exists()


def test_config_prints_the_resolved_config_without_training(shared_data, tmp_path):
  """`dvae config` prints every key as resolved (variant and overrides applied), or with --diff what differs from
  the family's base config; nothing is trained or written."""
  result = dvae("config", "--config", "experiments/faces_vae_gan.py:conv1024", data_dir=shared_data)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  for line in ("model.latent_dim = 1024", "model.discriminator.base_channels = 64", "model.solo_epochs = 100"):
    assert line in lines
  assert "optim.learning_rate = 0.0002" in lines and "seed = 0" in lines and "data.name = 'image_folder'" in lines
  result = dvae("config", "--config", "faces_vae_gan:conv1024,smoke", "--config.seed=3", "--diff", data_dir=shared_data)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert lines[0] == "# what differs from configs.base_config('vae_gan', 'face_dcgan')"
  assert "seed = 3  # base: 0" in lines and "model.latent_dim = 8  # base: 50" in lines  # smoke's latents
  assert "model.discriminator.name = 'conv_bn_discriminator'  # base: 'dense_discriminator'" in lines
  assert not any(line.startswith(("data.dir", "optim.b1")) for line in lines)  # unchanged keys are left out


def test_config_names_the_valid_variants_of_a_misspelt_one(shared_data):
  result = dvae("config", "--config", "faces_vae_gan:conv1025", data_dir=shared_data)
  assert result.returncode == 1 and "Traceback" not in result.stderr
  assert "unknown config variant 'conv1025' (did you mean 'conv1024' or 'conv'?); expected names from" in result.stderr
  assert "'resnet_solo'" in result.stderr and "at most one of ['smoke', 'cpu']" in result.stderr


def test_help_lists_every_command_and_each_command_has_its_own(capsys):
  from dvae_jax import main

  assert main.invoke("--help") == 0
  listing = capsys.readouterr().out
  assert all(f"  {name} " in listing for name in main.COMMANDS)  # plot included
  assert main.invoke("train", "--help") == 0
  own = capsys.readouterr().out
  assert own.startswith("usage: dvae train --config C --workdir W") and "--distributed:" in own
  assert "--which" not in own and "--iw_samples" not in own
  assert main.invoke("bogus") == 2
  assert "dvae: error: unknown command 'bogus'; expected one of train, evaluate" in capsys.readouterr().err


def test_evaluate_reports_progress_and_an_estimate_of_the_nll(smoke_run, shared_data, tmp_path):
  """A bar per phase on stderr, the NLL's estimate after its first batch, --iw_limit."""
  workdir, _ = smoke_run
  shutil.copytree(workdir, tmp_path, dirs_exist_ok=True)
  result = dvae("evaluate", "--workdir", str(tmp_path), "--iw_limit", "64", "--iw_samples", "10", data_dir=shared_data)
  assert result.returncode == 0, result.stderr
  assert "test metrics:" in result.stderr and "NLL, k = 10:" in result.stderr  # the bars' names
  assert "importance-weighted NLL: k = 10 on 64 images, about " in result.stderr
  assert "--iw_limit N (images) or --iw_samples K shortens it" in result.stderr
  assert json.loads((tmp_path / "eval_test.json").read_text())["iw_num_examples"] == 64


def test_ctrl_c_during_evaluate_exits_130_with_one_line(smoke_run, shared_data, tmp_path, monkeypatch, capsys):
  from dvae_jax import evaluate, main

  workdir, _ = smoke_run
  shutil.copytree(workdir, tmp_path, dirs_exist_ok=True)
  (tmp_path / "eval_test.json").unlink(missing_ok=True)

  def interrupted(*args, **kwargs):
    raise KeyboardInterrupt  # what Ctrl-C raises in the main thread

  monkeypatch.setattr(evaluate, "importance_weighted_nll", interrupted)
  monkeypatch.setenv("DVAE_DATA_DIR", str(shared_data))
  assert main.invoke("evaluate", "--workdir", str(tmp_path)) == 130
  error = capsys.readouterr().err
  assert error.strip().splitlines()[-1].startswith("dvae evaluate: interrupted (Ctrl-C).")
  assert "Traceback" not in error and not (tmp_path / "eval_test.json").exists()


def test_training_ends_with_the_labelled_table_and_says_how_evaluate_differs(smoke_run):
  _, result = smoke_run
  assert "validation -ELBO (output likelihood), nats" in result.stdout
  assert "validation reference 'test loss' (output BCE + its L2; not an ELBO), nats" in result.stdout
  assert "`dvae evaluate --workdir" in result.stdout and "measures the test split" in result.stdout


def test_forced_divergence_stops_the_cli_with_the_guards_message(cifar_data, tmp_path, monkeypatch, capsys):
  """The command and message docs/reference.md quotes (section 5)."""
  monkeypatch.chdir(REPO)
  status = main.invoke(
    "train",
    "--config",
    "experiments/cifar10_mlp_vae.py:smoke",
    "--workdir",
    str(tmp_path / "run"),
    f"--config.data.dir={cifar_data}",
    "--config.optim.learning_rate=1e3",
  )
  stderr = capsys.readouterr().err
  assert status == 1, stderr
  (paragraph,) = [line for line in stderr.splitlines() if line.startswith("dvae: error: ")]
  assert re.fullmatch(
    r"dvae: error: Training stopped: metric 'loss' is not finite at step 2 \(loss=nan, .*kl_nats=inf, .*"
    r"every step before it was finite\); no checkpoint had been written yet\. "
    r"Consider a lower optim\.learning_rate, gradient clipping \(optim\.clip_value\) or a config error\.",
    paragraph,
  ), paragraph
  assert "Traceback" not in stderr
  assert Checkpointer(tmp_path / "run" / "checkpoints").latest_step() is None
