"""plots.py: the validation series read from metrics.jsonl, each figure rendered to a valid PNG, the principal
components of a latent, and mismatched arrays refused."""

import json
import math
import pathlib

import numpy as np
import pytest
from PIL import Image

from dvae_jax import plots
from dvae_jax.errors import WorkdirError


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
  with pytest.raises(WorkdirError, match="only_train"):
    plots.plot_validation_curves({"good": good, "bad": bad}, tmp_path / "curves.png")
  with pytest.raises(ValueError, match="missing"):
    plots.validation_series(tmp_path / "missing", "kl_nats")
  assert not (tmp_path / "curves.png").exists()
  # A run trained without a validation split has none, and says so (dvae plot then skips the curves).
  assert plots.has_validation_records(good) and not plots.has_validation_records(bad)


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


def test_curves_draw_what_each_family_has_and_a_one_epoch_run_gets_one_tick(tmp_path):
  """An autoencoder's run has no KLD: its curves are its own metrics, named on the axes; a run of
  one epoch gets the tick 1 and no fractional ones."""
  ae = tmp_path / "ae"
  ae.mkdir()
  record = {"step": 16, "split": "valid", "epoch": 1, "recon_mse": 40.0, "psnr_db": 13.0, "objective_nats": 9.0}
  (ae / "metrics.jsonl").write_text(json.dumps(record) + "\n")
  metrics = plots.common_metrics({"AE": ae})
  assert [metric for metric, _ in metrics] == ["recon_mse", "psnr_db"]
  figure = plots.validation_figure({"AE": ae})
  assert [list(ax.get_xticks()) for ax in figure.axes] == [[1], [1]]
  assert "(recon_mse)" in figure.axes[0].get_ylabel() and "squared error" in figure.axes[0].get_ylabel()
  with pytest.raises(WorkdirError, match="share none of the metrics"):
    plots.common_metrics({"AE": ae, "VAE": _write_run(tmp_path / "vae")})


def test_reconstruction_grid_is_labelled_and_legible(tmp_path):
  images = np.random.default_rng(0).uniform(size=(16, 28, 28, 1))
  path = plots.plot_reconstructions(images, images, tmp_path / "r.png", output_label="dae decoder output", title="t")
  _assert_png(path, min_size=(700, 340))  # 8 columns of 0.6 inch images and the row labels, 4 rows, at 120 dpi


def test_a_long_title_is_wrapped_not_clipped(tmp_path):
  """The title is wrapped to the figure's width: the PNG grows a line instead of losing words."""
  images = np.random.default_rng(0).uniform(size=(2, 10, 28, 28, 1))
  short = plots.plot_interpolations(images, tmp_path / "a.png", title="short")
  long = plots.plot_interpolations(images, tmp_path / "b.png", title="outputs along straight lines " * 6)
  with Image.open(short) as a, Image.open(long) as b:
    assert a.size[0] == b.size[0] and b.size[1] > a.size[1]


def test_outputs_of_runs_on_other_data_stand_under_their_own_inputs(tmp_path):
  rng = np.random.default_rng(0)
  mnist, fashion = rng.uniform(size=(4, 28, 28, 1)), rng.uniform(size=(4, 28, 28, 1))
  path = plots.plot_image_comparison(
    mnist, {"A": mnist, "B": fashion}, tmp_path / "c.png", inputs_of={"A": mnist, "B": fashion}
  )
  _assert_png(path)
  with Image.open(path) as image:
    one_block = plots.plot_image_comparison(mnist, {"A": mnist, "B": mnist}, tmp_path / "d.png")
    with Image.open(one_block) as same:
      assert image.size[1] > same.size[1]  # a third row block: "input of B"


def test_principal_components_known_answer():
  # Variances 9, 1 and 0 along the directions (1, 1, 0)/sqrt(2), (1, -1, 0)/sqrt(2) and z.
  along = np.array([[3.0, 1.0], [-3.0, 1.0], [3.0, -1.0], [-3.0, -1.0]])  # per-axis variance 9 and 1
  axes = np.array([[1.0, 1.0, 0.0], [1.0, -1.0, 0.0]]) / np.sqrt(2.0)
  codes = along @ axes + 5.0  # an offset that centring removes
  points, fractions = plots.principal_components(codes)
  np.testing.assert_allclose(fractions, [0.9, 0.1])
  # Signs: the largest loading of each axis is positive, here +x for both axes.
  np.testing.assert_allclose(points, along, atol=1e-12)
  assert plots.latent_plane(codes)[1] == ("PC 1 (90.0% of variance)", "PC 2 (10.0% of variance)")
  two_d = np.arange(8.0).reshape(4, 2)
  assert plots.latent_plane(two_d)[1] == ("z1", "z2") and plots.latent_plane(two_d)[0] is two_d


def test_figure_functions_reject_mismatched_arrays(tmp_path):
  images = np.zeros((4, 28, 28, 1))
  with pytest.raises(ValueError, match="corrupted has shape"):
    plots.plot_denoising(images, images[:3], images, tmp_path / "d.png")
  with pytest.raises(ValueError, match="rows >= 2"):
    plots.plot_manifold(images, tmp_path / "m.png", extent=2.0)  # not [rows, columns, H, W, C]
  with pytest.raises(ValueError, match="4 codes but 3 labels"):
    plots.plot_latent_scatter(np.zeros((4, 2)), np.zeros(3, int), tmp_path / "s.png")
  with pytest.raises(ValueError, match="D >= 2"):
    plots.latent_plane(np.zeros((4, 1)))
  assert not list(tmp_path.iterdir())
