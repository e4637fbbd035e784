"""dvae_jax.reports: what `dvae evaluate` prints and the scripts' markdown tables, from small hand-written runs
in tests/fixtures/reports/ (eval_test.json, config.json, metrics.jsonl, *_wall_seconds). The expected texts in
fixtures/reports/expected/ are what main.py and the scripts' table code printed for the same files before that
code moved here (the two tables whose titles named systems by seed number now name them by their source)."""

import json
import pathlib
import shutil
import subprocess
import sys

import pytest

from dvae_jax import reports
from dvae_jax.errors import WorkdirError
from dvae_jax.reports.files import read_json

REPO = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "reports"
EXPECTED = FIXTURES / "expected"
DATE = "2026-01-02"

# table -> (function, its runs under FIXTURES, keyword arguments)
TABLES = {
  "dvae_table": (
    reports.dvae_table,
    "dvae_table",
    dict(epochs_scale=0.008, command="scripts/reproduce_dvae_table.sh --quick", hardware="HARDWARE", date=DATE),
  ),
  "vae_gan": (reports.vae_gan, "vae_gan", dict(command="scripts/reproduce_vae_gan.sh --epochs 3", date=DATE)),
  "autoencoders": (reports.autoencoders, "autoencoders", dict(command="scripts/reproduce_autoencoders.sh --runs X")),
  "binarized_nll": (reports.binarized_nll, "binarized_nll", dict(command="scripts/reproduce_binarized_nll.sh ")),
  "denoising_vae_nll": (
    reports.denoising_vae_nll,
    "denoising_vae",
    dict(command="scripts/reproduce_denoising_vae.sh --epochs 2"),
  ),
  "mixture_prior": (reports.mixture_prior, "mixture_prior", dict(command="scripts/reproduce_mixture_prior.sh ")),
  "ablation": (reports.ablation, "ablation", dict(family="vae", command="scripts/ablate_reference_fixes.sh --runs X")),
}


def table(name: str) -> str:
  function, runs, kwargs = TABLES[name]
  return function(FIXTURES / runs, **kwargs)


def cli(*args: str, capsys) -> tuple[int, str, str]:
  status = reports.main(list(args))
  out, err = capsys.readouterr()
  return status, out, err


# ---------------------------------------------------------------- what `dvae evaluate` and `dvae train` print


@pytest.mark.parametrize("expected", sorted(EXPECTED.glob("evaluate_*.txt")), ids=lambda path: path.stem)
def test_evaluation_text_is_the_expected_one(expected):
  """The whole of `dvae evaluate`'s output for fixture results (labels specific to family and likelihood)."""
  workdir = next(
    path.parent
    for path in FIXTURES.rglob("eval_test.json")
    if "_".join(path.parent.relative_to(FIXTURES).parts) == expected.stem.removeprefix("evaluate_")
  )
  result = json.loads((workdir / "eval_test.json").read_text())
  assert reports.format_evaluation(result) + "\n" == expected.read_text()  # main.py print()s it
  assert reports.format_evaluation(read_json(workdir / "eval_test.json")) + "\n" == expected.read_text()


def test_headline_of_a_published_cell():
  result = json.loads((FIXTURES / "dvae_table" / "mnist_dvae_s1" / "eval_test.json").read_text())
  lines = reports.format_headline(result).splitlines()
  assert lines[0] == "metric                                                                 this run   published"
  assert lines[1] == "test -ELBO (output likelihood), nats                                   121.2500            "
  assert lines[5] == "test reference 'test loss' (output BCE + its L2; not an ELBO), nats     98.4219     71.6480"
  assert lines[9] == "test classifier error on reconstructions                                 0.0413      0.0299"
  assert lines[17] == "importance samples (k) / images                                       100 / 200            "
  assert lines[18] == "epochs                                                                        2         250"
  assert lines[19] == "(published: dojoteef/dvae, docs/reference.md; errors are fractions)"


def test_headline_without_a_published_source_has_no_such_column():
  result = {"split": "test", "recon_mse": 8.4, "psnr_db": 20.25, "epoch": 1.0}
  assert reports.format_headline(result) == (
    "metric                                                               this run\n"
    "test autoencoder output vs the clean image: sum of squared errors      8.4000\n"
    "test autoencoder output vs the clean image: PSNR, dB                  20.2500"
  )


def test_metrics_listing_is_what_train_printed():
  result = json.loads((FIXTURES / "vae_gan" / "mnist_dense_vae_bce" / "eval_test.json").read_text())
  expected = (EXPECTED / "train_metrics.txt").read_text()
  assert reports.format_metrics("validation metrics after training (runs/x):", result) + "\n" == expected
  assert reports.format_metrics("t:", {"b": 2, "a": 0.5, "c": "x"}) == (
    "t:\n  a                                    0.5000\n  b                                    2\n"
    "  c                                    x"
  )


# ---------------------------------------------------------------- the scripts' tables


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_is_what_the_script_wrote(name):
  assert table(name) == (EXPECTED / f"{name}.md").read_text()


def test_dvae_table_rows():
  lines = table("dvae_table").splitlines()
  assert lines[2] == f"Made by `scripts/reproduce_dvae_table.sh --quick` on {DATE}. Hardware: HARDWARE."
  assert lines[4].startswith("**Shortened schedule: these are not full-length reproductions.** Epochs scaled by 0.008")
  assert lines[4].endswith("(`--recompute-bn`): a short run's running averages lag behind its still-moving weights.")
  assert lines[10] == (
    "| VAE | MNIST | 1 | 74.248 | 97.143 | (the output) | 3.211 | 20.900 | 17.236 | 3.85% | 33.60% | 104.81 (k=100) "
    "| 2 / 250 | 5.3 min |"
  )
  assert lines[11] == (
    "| DVAE | MNIST | 1 | 71.648 | 98.422 | 99.031 | 1.500 / 1.625 | 25.728 | 25.728 | 2.99% | 4.12% | 108.67 (k=100) "
    "| 2 / 250 | - |"
  )
  assert lines[12] == "| VAE | MNIST | 5 | 68.786 | - | (the output) | - | 14.333 | - | 2.16% | - | - | - / 250 | - |"
  assert lines[-2:] == ["| MNIST | 1.01% | 4.15% | 2 / 60 | 1.5 min |", "| CIFAR-10 | 22.23% | - | - / 250 | - |"]


def test_dvae_table_of_a_full_schedule_has_no_shortened_note(tmp_path):
  run = tmp_path / "mnist_vae_s1"
  shutil.copytree(FIXTURES / "dvae_table" / "mnist_vae_s1", run)
  config = json.loads((run / "config.json").read_text())
  config["data"]["train_limit"], config["model"]["network"]["bn_momentum"] = 0, 0.999
  (run / "config.json").write_text(json.dumps(config))
  result = json.loads((run / "eval_test.json").read_text())
  result["num_examples"] = 10_000
  del result["recomputed_batch_norm_batches"]
  (run / "eval_test.json").write_text(json.dumps(result))
  text = reports.dvae_table(tmp_path, epochs_scale=1, command="c", hardware="h", date=DATE)
  assert "Shortened" not in text and "| VAE | MNIST | 1 | 74.248 | 97.143 |" in text
  shortened = reports.dvae_table(tmp_path, epochs_scale=0.5, command="c", hardware="h", date=DATE)
  assert "Epochs scaled by 0.5 (the epochs column gives ours / the reference's), test metrics on the first 10000 " in (
    shortened
  )
  assert "Batch-norm momentum" not in shortened and "recomputed" not in shortened
  assert "| CIFAR-10 | 22.23% | - | - / 250 | - |" in reports.dvae_table(
    tmp_path / "missing", epochs_scale=1, command="c", hardware="h", date=DATE
  )


def test_vae_gan_rows():
  lines = table("vae_gan").splitlines()
  assert lines[8:10] == [
    "| MNIST | BCE | VAE | 3 | 113.18 | 10.98 | 16.29 | 0.6527 | 0.0860 / 0.1141 | 21.30 | 27.60 | 11.81% | 11.5 |",
    "| MNIST | BCE | VAE + D | 3 | 123.31 | 11.76 | 15.66 | 0.6363 | 0.0911 / 0.1141 | 19.80 | 27.79 | - | 12.3 |",
  ]  # s / epoch: the median of the validation records' epoch_seconds; "-": no classifier judged that run
  assert "| VAE | 1 | 3960.24 | 151.57 | 17.26 | 0.4279 | 0.0427 / 0.0614 | - |" in lines
  assert lines[-1] == "| MNIST | 2.27% | 3 |"


def test_vae_gan_without_face_runs_or_classifiers(tmp_path):
  shutil.copytree(FIXTURES / "vae_gan" / "mnist_dense_vae_bce", tmp_path / "fashion_dense_vae_l2")
  lines = reports.vae_gan(tmp_path, command="c", date=DATE).splitlines()
  assert lines[8] == (
    "| Fashion-MNIST | L2 | VAE | 3 | 113.18 | 10.98 | 16.29 | 0.6527 | 0.0860 / 0.1141 | 21.30 | 27.60 | 11.81% "
    "| 11.5 |"
  )
  assert not any("face" in line for line in lines)
  assert lines[-4:] == ["Classifier error on real test images:", "", "| data | error | epochs |", "|---|---|---|"]


def test_autoencoder_rows():
  lines = table("autoencoders").splitlines()
  assert lines[6] == (
    "| mnist_conv_dae | arunarn2_conv | gaussian (clip True, std 0.5) | none | 1 x 3200 | 500 | 36.99 | 13.45 | 9.37 "
    "| +4.08 | 0.1760 | 0.5369 | 0.0000 | 0.9 / 0.2 min |"
  )
  assert lines[11] == (
    "| mnist_sparse_ae_kl | mlp | none | kl (target 0.1, weight 0.06125) | 10 x 53952 | 10000 | 3.57 | 24.18 | - | - "
    "| 0.1118 | 0.3839 | 0.0554 | 0.7 / 0.1 min |"
  )


def test_binarized_denoising_mixture_and_ablation_rows():
  assert "| DVAE (reference architecture) | 119.40 | 200 | 500 | 128.28 | 2 / 250 | 54000 | 10.5 min |" in (
    table("binarized_nll").splitlines()
  )
  denoising = table("denoising_vae_nll").splitlines()
  assert (
    "| VAE | 101.76 | 500 / 1000 | 107.73 | 85.35 | 22.39 | 2 / 200 | 0.001 | 54000 | 0 | 2.3 / 0.9 min |" in denoising
  )
  assert denoising[-1] == "Lower is better: denoising VAE (Gaussian input noise 0.025) by 0.09 nats."
  mixture = table("mixture_prior").splitlines()
  assert mixture[-2:] == [
    "| N(0, I) | 10 | 102.81 | 27.38 | 96.61 | 1000 / 1000 | n/a | n/a | n/a | 2.5 + 1.7 min |",
    "| mixture of 10 Gaussians | 10 | 100.50 | 25.36 | 94.68 | 1000 / 1000 | 0.595 | 0.599 | 10 | 2.8 + 1.8 min |",
  ]
  assert table("ablation").splitlines()[-2:] == [  # the runs without an eval_test.json are left out
    "| reference L2 + batch-normalized label logits | 97.143 | 17.236 | 112.611 | 5.80% | 33.60% | 5.3 min |",
    "| single L2 + plain label head (before the fixes) | 100.360 | 17.525 | 113.736 | 5.25% | - | 10.2 min |",
  ]


# ---------------------------------------------------------------- the command line and its errors


def test_cli_writes_the_table_to_stdout_or_out(tmp_path, capsys):
  runs = str(FIXTURES / "mixture_prior")
  command = "scripts/reproduce_mixture_prior.sh "
  assert cli("mixture-prior", "--runs", runs, "--command", command, capsys=capsys) == (
    0,
    (EXPECTED / "mixture_prior.md").read_text(),
    "",
  )
  out = tmp_path / "a" / "t.md"
  assert cli("ablation", "--runs", str(FIXTURES / "ablation"), "--out", str(out), capsys=capsys) == (0, "", "")
  text = out.read_text()
  assert text.startswith("# Which reference-fidelity fix moved what (VAE, samples 1)")
  assert f"Made by `python -m dvae_jax.reports ablation --runs {FIXTURES / 'ablation'} --out " in text


def test_cli_help_lists_every_table(capsys):
  with pytest.raises(SystemExit) as exit:
    reports.main(["--help"])
  assert exit.value.code == 0
  out = capsys.readouterr().out
  tables = ("dvae-table", "vae-gan", "autoencoders", "binarized-nll", "denoising-vae-nll", "mixture-prior", "ablation")
  assert all(f"\n  {name} " in out for name in tables)


def test_a_missing_run_is_one_line_naming_the_file(tmp_path, capsys):
  status, out, err = cli("autoencoders", "--runs", str(tmp_path), capsys=capsys)
  path = tmp_path / "mnist_conv_dae" / "eval_test.json"
  assert (status, out) == (1, "")
  assert err == (
    f"python -m dvae_jax.reports: error: {path}: No such file or directory; expected the test metrics of "
    f"`dvae evaluate --workdir {path.parent}`.\n"
  )


def test_a_corrupt_eval_file_is_one_line_naming_the_file(tmp_path, capsys):
  shutil.copytree(FIXTURES / "binarized_nll", tmp_path, dirs_exist_ok=True)
  path = tmp_path / "mnist_binarized_dvae" / "eval_test.json"
  path.write_text('{"iw_nll_nats": 119.4,')
  status, _, err = cli("binarized-nll", "--runs", str(tmp_path), capsys=capsys)
  assert status == 1 and err.count("\n") == 1 and "Traceback" not in err
  assert err.startswith(f"python -m dvae_jax.reports: error: {path}: not valid JSON (")
  assert err.endswith(f"expected the test metrics of `dvae evaluate --workdir {path.parent}`.\n")


def test_a_missing_metric_or_wall_time_names_its_file(tmp_path):
  shutil.copytree(FIXTURES / "mixture_prior", tmp_path, dirs_exist_ok=True)
  path = tmp_path / "mnist_mixture_vae" / "eval_test.json"
  result = json.loads(path.read_text())
  del result["kl_nats"]
  path.write_text(json.dumps(result))
  with pytest.raises(WorkdirError, match=f"^{path}: no 'kl_nats'; expected it in the file"):
    reports.mixture_prior(tmp_path, command="c")
  (tmp_path / "mnist_mixture_vae_standard_prior" / "eval_wall_seconds").unlink()
  with pytest.raises(WorkdirError, match="eval_wall_seconds: missing or not a number"):
    reports.mixture_prior(tmp_path, command="c")


def test_reports_imports_no_jax():
  code = "import sys, dvae_jax.reports; sys.exit('jax' in sys.modules)"
  assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


# ---------------------------------------------------------------- the scripts that call it


@pytest.mark.parametrize("script", sorted((REPO / "scripts").glob("*.sh")), ids=lambda path: path.name)
def test_shell_scripts_hold_no_python_and_print_their_usage(script):
  text = script.read_text()
  assert "<<'PY'" not in text and "python3 -c" not in text and "python -c" not in text
  result = subprocess.run(["bash", str(script), "--help"], capture_output=True, text=True, cwd=REPO, timeout=30)
  assert result.returncode == 0 and len(result.stdout.splitlines()) > 3, result.stderr


def test_python_scripts_import_no_other_script():
  for script in (REPO / "scripts").glob("*.py"):
    text = script.read_text()
    assert "sys.path" not in text and "from scripts" not in text and "import scripts" not in text, script


def test_headline_labels_follow_the_run():
  """A Gaussian-likelihood run's "test loss" is not a BCE; two PSNRs of an autoencoder are explained;
  the real images' sharpness row does not read "test test images"."""
  result = {"split": "test", "family": "ae", "likelihood": "gaussian", "reference_loss": 40.0, "psnr_db": 12.95}
  result.update(recon_psnr_db=12.9532, test_sharpness=0.11, label_error=0.1)
  text = reports.format_headline(result)
  assert "test reference 'test loss' (output Gaussian -log p(x|z) + its L2; not an ELBO), nats" in text
  assert "BCE" not in text and "test test" not in text
  assert "test label-head error on the real images" in text
  assert text.splitlines()[-1].startswith("(the two PSNRs of the autoencoder score two independent draws")
  classifier = reports.format_headline({"split": "test", "family": "classifier", "label_error": 0.02})
  assert "test classifier error on the real images" in classifier
