"""dvae_jax.reports: what `dvae evaluate` and `dvae train` print, from the eval_test.json of small hand-written
runs in tests/fixtures/reports/ (evaluate/RUN.json, train/RUN.json) against the text printed for each (RUN.txt)."""

import json
import pathlib
import subprocess
import sys

import pytest

from dvae_jax import reports
from dvae_jax.reports.files import read_json
from tests.helpers import REPO

FIXTURES = REPO / "tests" / "fixtures" / "reports"


def evaluated(path: pathlib.Path) -> dict:
  return json.loads(path.read_text())


@pytest.mark.parametrize("run", sorted((FIXTURES / "evaluate").glob("*.json")), ids=lambda path: path.stem)
def test_evaluation_text_is_the_expected_one(run):
  """The whole of `dvae evaluate`'s output for fixture results (labels specific to family and likelihood)."""
  expected = run.with_suffix(".txt").read_text()
  assert reports.format_evaluation(evaluated(run)) + "\n" == expected  # main.py print()s it
  assert reports.format_evaluation(read_json(run)) + "\n" == expected


def test_headline_of_a_published_cell():
  result = evaluated(FIXTURES / "evaluate" / "mnist_dvae_s1.json")
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
  result = evaluated(FIXTURES / "train" / "mnist_dense_vae_bce.json")
  expected = (FIXTURES / "train" / "mnist_dense_vae_bce.txt").read_text()
  assert reports.format_metrics("validation metrics after training (runs/x):", result) + "\n" == expected
  assert reports.format_metrics("t:", {"b": 2, "a": 0.5, "c": "x"}) == (
    "t:\n  a                                    0.5000\n  b                                    2\n"
    "  c                                    x"
  )


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


def test_reports_imports_no_jax():
  code = "import sys, dvae_jax.reports; sys.exit('jax' in sys.modules)"
  assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0
