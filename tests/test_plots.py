"""Plots: the validation series read from metrics.jsonl, and that each figure renders to a valid PNG."""

import json
import math
import pathlib

import numpy as np
import pytest
from PIL import Image

from dvae_jax import plots


def _write_run(workdir: pathlib.Path, *, kl_offset: float = 0.0, nan_epoch: int | None = None) -> pathlib.Path:
  """A fake metrics.jsonl: 5 validation epochs written out of order, train records interleaved."""
  workdir.mkdir(parents=True)
  records = []
  for epoch in (3, 1, 2, 5, 4):
    records.append({"step": epoch * 100 - 50, "split": "train", "epoch": epoch, "loss": 999.0, "kl_nats": 999.0})
    loss = "nan" if epoch == nan_epoch else 100.0 - epoch
    records.append({"step": epoch * 100, "split": "valid", "epoch": epoch, "reference_loss": loss,
                    "kl_nats": 20.0 + epoch + kl_offset, "recon_nats": 80.0})  # fmt: skip
  (workdir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
  return workdir


def _assert_png(path: pathlib.Path, *, min_size: tuple[int, int] = (200, 100)) -> None:
  assert path.exists()
  with Image.open(path) as image:
    assert image.format == "PNG"
    image.verify()
  with Image.open(path) as image:
    assert image.size[0] >= min_size[0] and image.size[1] >= min_size[1], image.size


def test_validation_series_sorted_valid_only_nan_kept(tmp_path):
  workdir = _write_run(tmp_path / "vae", nan_epoch=2)
  epochs, values = plots.validation_series(workdir, "reference_loss")
  np.testing.assert_array_equal(epochs, [1, 2, 3, 4, 5])
  np.testing.assert_array_equal(values, [99.0, math.nan, 97.0, 96.0, 95.0])  # NaNs compare equal here.
  assert values.dtype == np.float64
  _, kl = plots.validation_series(workdir, "kl_nats")
  np.testing.assert_array_equal(kl, [21.0, 22.0, 23.0, 24.0, 25.0])  # Not the train records' 999.


def test_plot_validation_curves(tmp_path):
  runs = {"VAE": _write_run(tmp_path / "vae", nan_epoch=3), "DVAE": _write_run(tmp_path / "dvae", kl_offset=5.0)}
  path = plots.plot_validation_curves(runs, tmp_path / "figures" / "curves.png", title="VAE vs DVAE")
  assert path == tmp_path / "figures" / "curves.png"
  _assert_png(path, min_size=(600, 300))


def test_plot_validation_curves_without_valid_records_names_workdir(tmp_path):
  good = _write_run(tmp_path / "good")
  bad = tmp_path / "only_train"
  bad.mkdir()
  (bad / "metrics.jsonl").write_text(json.dumps({"step": 1, "split": "train", "loss": 1.0}) + "\n")
  with pytest.raises(ValueError, match="only_train"):
    plots.plot_validation_curves({"good": good, "bad": bad}, tmp_path / "curves.png")
  with pytest.raises(ValueError, match="missing"):
    plots.validation_series(tmp_path / "missing", "kl_nats")
  assert not (tmp_path / "curves.png").exists()


def test_plot_image_comparison_grayscale_and_rgb(tmp_path):
  rng = np.random.default_rng(0)
  inputs = rng.uniform(size=(12, 28, 28, 1)).astype(np.float32)
  outputs = {"VAE": np.clip(inputs + 0.1, 0, 1), "DVAE": np.clip(inputs - 0.1, 0, 1)}
  path = plots.plot_image_comparison(inputs, outputs, tmp_path / "gray.png", columns=6, title="reconstructions")
  _assert_png(path)
  rgb = rng.uniform(size=(4, 32, 32, 3))
  _assert_png(plots.plot_image_comparison(rgb, {"VAE": rgb[::-1]}, tmp_path / "rgb.png"))
  with pytest.raises(ValueError, match="shape"):
    plots.plot_image_comparison(inputs, {"VAE": inputs[:6]}, tmp_path / "bad.png")


def test_plot_samples_array_and_dict(tmp_path):
  rng = np.random.default_rng(1)
  samples = rng.uniform(size=(20, 28, 28, 1))
  _assert_png(plots.plot_samples(samples, tmp_path / "samples.png"))
  path = plots.plot_samples({"VAE": samples, "DVAE": samples[:7]}, tmp_path / "a" / "b.png", columns=5, title="prior")
  _assert_png(path)
