"""figures.py: latent-space and denoising figures of trained runs (`dvae figures`, `dvae plot`): tiny runs on real
MNIST; and a face run in the original's scrambled layout displays its true images."""

import dataclasses
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from dvae_jax import clustering, figures, plots, train
from dvae_jax.data.image_folder import ImageFolderOptions, load_image_folder_split
from dvae_jax.experiment import Experiment, build_experiment, module_rngs
from dvae_jax.figures import reconstructions
from dvae_jax.inference import Run, restore_run
from dvae_jax.local_processes import xla_flags_with_cpu_devices
from dvae_jax.models.priors import MixturePrior
from dvae_jax.models.vae import VAE
from tests.helpers import REPO, dvae

GAUSSIAN = {"name": "gaussian", "std": 0.5, "clip": True}
SMALL = {"data__train_limit": 32, "train__grid_images": 0}  # two training steps, no grid at the end


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory, tiny_config):
  """Workdirs of one-epoch runs: VAEs with 2-D and 3-D latents and a Gaussian denoising AE."""
  root = tmp_path_factory.mktemp("runs")
  configs = {
    "vae2": tiny_config("vae", "mlp", model__latent_dim=2, model__label_head=False, **SMALL),
    "vae3": tiny_config("vae", "mlp", model__latent_dim=3, model__label_head=False, **SMALL),
    "ae": tiny_config("ae", "mlp", model__corruption=GAUSSIAN, **SMALL),
  }
  for name, config in configs.items():
    train.train_and_evaluate(config, root / name)
  return {name: root / name for name in configs}


@pytest.fixture(scope="module")
def runs(workdirs, tiny_config, tmp_path_factory):
  """The trained runs restored from their workdirs, once, and a classifier run at its initial state
  (which figures a family can draw depends on its module, not on training; this saves a training)."""
  restored = {name: restore_run(workdir) for name, workdir in workdirs.items()}
  experiment = build_experiment(tiny_config("classifier", "mlp", **SMALL))
  restored["classifier"] = Run(tmp_path_factory.mktemp("classifier"), experiment, experiment.init_state(), 0)
  return restored


def _png_size(path) -> tuple[int, int]:
  with Image.open(path) as image:
    assert image.format == "PNG"
    return image.size


def test_scatter_and_manifold_of_a_2d_latent(runs, tmp_path):
  written, skipped = figures.draw_figures(runs["vae2"], tmp_path, which=("scatter", "manifold"))
  assert written == [tmp_path / "test_latent_scatter.png", tmp_path / "latent_manifold.png"] and skipped == {}
  assert _png_size(written[0]) == (round(6.5 * plots.DPI), round(5.5 * plots.DPI))
  width, height = _png_size(written[1])
  assert width >= 20 * 28 and height >= 20 * 28  # no decoded pixel lost to downsampling

  run = runs["vae2"]
  codes, labels = figures.posterior_means(run, run.split("test"), 5000)
  assert codes.shape == (64, 2)  # every test image of the tiny run (fewer than 5000)
  np.testing.assert_array_equal(labels, run.split("test").labels)
  # Row i, column j decodes (z1, z2) = (-2 + 4j/19, 2 - 4i/19): z2 decreases down the rows, as in the original.
  manifold = figures.manifold_images(run)
  assert manifold.shape == (20, 20, 28, 28, 1)
  corners = run.decode(np.array([[-2.0, 2.0], [2.0, 2.0], [-2.0, -2.0], [2.0, -2.0]]))
  for (i, j), expected in zip([(0, 0), (0, 19), (19, 0), (19, 19)], corners, strict=True):
    np.testing.assert_allclose(manifold[i, j], expected, atol=1e-6)
  assert not np.allclose(manifold[0, 0], manifold[19, 19])


def test_scatter_of_a_3d_latent_is_on_principal_components(runs, tmp_path):
  run = runs["vae3"]
  written, skipped = figures.draw_figures(run, tmp_path, which=("scatter", "manifold"))
  assert written == [tmp_path / "test_latent_scatter.png"]
  assert "3 dimensions" in skipped["manifold"]
  codes, _ = figures.posterior_means(run, run.split("test"), 5000)
  points, (xlabel, ylabel) = plots.latent_plane(codes)
  _, fractions = plots.principal_components(codes)
  assert codes.shape == (64, 3) and points.shape == (64, 2)
  assert xlabel == f"PC 1 ({100 * fractions[0]:.1f}% of variance)" and ylabel.startswith("PC 2 (")
  # Each axis holds its stated share of the total variance.
  total = np.sum(np.var(codes.astype(np.float64), axis=0))
  np.testing.assert_allclose(np.var(points, axis=0) / total, fractions, rtol=1e-6)


def test_denoising_figure_shows_one_draw_of_corruption_and_output(runs, tmp_path):
  run = runs["ae"]
  written, skipped = figures.draw_figures(run, tmp_path, which=("denoising",), num_images=6)
  assert written == [tmp_path / "test_denoising.png"] and skipped == {}
  experiment, split = run.experiment, run.split("test")
  clean, corrupted, output = figures.denoising_examples(run, split, 6)
  assert clean.shape == corrupted.shape == output.shape == (6, 28, 28, 1)
  np.testing.assert_allclose(clean, experiment.prepare(split.take(np.arange(6)))["image"], atol=1e-6)
  assert 0.1 < np.std(corrupted - clean) < 0.5  # std 0.5 noise, less after clipping to [0, 1]
  # The corrupted input is the "noise" draw of the sample key, and the output is the model's
  # reconstruction in that same pass: `reconstructions` (the evaluation grid) sees the same draw.
  variables = Experiment.variables(run.state)
  rngs = module_rngs(experiment.keys["sample"])
  expected_noisy = experiment.model.apply(variables, jnp.asarray(clean), rngs=rngs, method="corrupt")
  np.testing.assert_allclose(corrupted, expected_noisy, atol=1e-6)
  np.testing.assert_allclose(output, reconstructions(experiment, run.state, split, 6)[1], atol=1e-6)


def test_interpolation_runs_between_posterior_means(runs):
  run = runs["vae2"]
  images, labels = figures.interpolations(run, run.split("test"), pairs=8, steps=5)
  assert images.shape == (8, 5, 28, 28, 1) and labels[0] == "0 \N{RIGHTWARDS ARROW} 8"
  means, _ = figures.posterior_means(run, run.split("test"), 16)
  # Pair p runs from test image p to test image p + 8, in steps of a quarter.
  np.testing.assert_allclose(images[:, 0], run.decode(means[:8]), atol=1e-6)
  np.testing.assert_allclose(images[:, 2], run.decode((means[:8] + means[8:]) / 2), atol=1e-6)
  np.testing.assert_allclose(images[:, 4], run.decode(means[8:]), atol=1e-6)


class _TwoComponentVAE(VAE):
  """A stand-in for a mixture prior: components at -3 and +3 on every axis, same parameters as the VAE; an
  image belongs to the component on the side of its posterior mean's first coordinate."""

  def sample_prior_components(self, key: jax.Array, num: int) -> jax.Array:
    noise = jax.random.normal(key, (num, self.config.latent_dim))
    return jnp.stack([noise - 3.0, noise + 3.0])  # [K, num, z]

  def cluster(self, x: jax.Array) -> jax.Array:
    return (self.encode(x)[0][:, 0] > 0).astype(jnp.int32)


def test_prior_samples_plain_grid_or_one_row_per_component(runs, tmp_path):
  run = runs["vae2"]
  assert figures.samples(run, tmp_path / "plain.png", num_images=4) == tmp_path / "plain.png"
  hparams = dataclasses.replace(run.experiment.hparams, prior=MixturePrior(components=2))
  experiment = dataclasses.replace(
    run.experiment,
    hparams=hparams,
    family=dataclasses.replace(run.experiment.family, module=_TwoComponentVAE),
    model=_TwoComponentVAE(hparams),
  )
  mixture = dataclasses.replace(run, experiment=experiment)
  components = figures.prior_component_samples(mixture, 4)
  assert components.shape == (2, 4, 28, 28, 1)
  noise = jax.random.normal(run.experiment.keys["sample"], (4, 2))
  np.testing.assert_allclose(components[1], run.decode(noise + 3.0), atol=1e-6)
  rows = figures.component_rows(mixture)  # in the order of the test labels the components match
  counts = clustering.cluster_counts(mixture.experiment, mixture.state, mixture.split("test"))
  matched = clustering.matched_labels(counts)
  assert [k for k, _ in rows] == sorted(matched, key=matched.get)
  assert rows[0][1] == f"label {matched[rows[0][0]]} (component {rows[0][0]})"
  one_row_each = figures.samples(mixture, tmp_path / "mixture.png", num_images=4)
  plain_width, plain_height = _png_size(tmp_path / "plain.png")  # 4 x 4 grid
  width, height = _png_size(one_row_each)  # 2 labelled rows of 4
  assert height < plain_height and width > plain_width  # the label column


def test_classifier_run_skips_every_latent_figure_with_a_reason(runs, tmp_path):
  written, skipped = figures.draw_figures(runs["classifier"], tmp_path)
  assert written == [] and list(skipped) == list(figures.FIGURES)
  assert skipped["scatter"] == "the 'classifier' family has no latent code (its module has no encode)."
  assert "no input corruption (its module has no corrupt)" in skipped["denoising"]
  assert not tmp_path.exists() or not list(tmp_path.iterdir())
  _, vae_skipped = figures.draw_figures(runs["vae2"], tmp_path, which=("denoising",))
  assert vae_skipped == {"denoising": "the 'vae' family has no input corruption (its module has no corrupt)."}
  with pytest.raises(ValueError, match="unknown figure"):
    figures.make_run_figures(tmp_path / "not_restored", which=("scatter", "histogram"))


def test_figures_are_deterministic(runs, tmp_path):
  which = ("scatter", "manifold", "interpolation", "samples")
  first, _ = figures.draw_figures(runs["vae2"], tmp_path / "a", which=which)
  second, _ = figures.draw_figures(runs["vae2"], tmp_path / "b", which=which)
  assert [p.name for p in first] == [p.name for p in second] and len(first) == 4
  for a, b in zip(first, second, strict=True):
    assert a.read_bytes() == b.read_bytes(), a.name


def test_figures_command(workdirs, shared_data, tmp_path):
  env = {**os.environ, "XLA_FLAGS": xla_flags_with_cpu_devices(1)}
  env["DVAE_DATA_DIR"] = str(shared_data)
  args = ["figures", "--workdir", str(workdirs["vae2"]), "--out", str(tmp_path), "--which", "manifold,denoising"]
  result = subprocess.run(
    [sys.executable, "-m", "dvae_jax.main", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
  )
  assert result.returncode == 0, result.stderr
  assert result.stdout.splitlines() == [str(tmp_path / "latent_manifold.png")]
  assert "dvae figures: skipped denoising: the 'vae' family has no input corruption" in result.stderr


def test_figures_command_fails_when_it_draws_nothing(workdirs, shared_data, tmp_path, monkeypatch, capsys):
  """`--which manifold` on a 3-D latent: nothing to draw is an error (exit 1), not a silent success."""
  from dvae_jax import main

  monkeypatch.setenv("DVAE_DATA_DIR", str(shared_data))
  status = main.invoke("figures", "--workdir", str(workdirs["vae3"]), "--out", str(tmp_path), "--which", "manifold")
  error = capsys.readouterr().err
  assert status == 1 and "no figure drawn" in error and "latent has 3 dimensions" in error
  assert not list(tmp_path.iterdir())


def test_plot_draws_autoencoder_runs(workdirs, shared_data, tmp_path, monkeypatch, capsys):
  """An autoencoder has no KLD: `dvae plot` draws its own metrics' curves and its outputs."""
  from dvae_jax import main

  monkeypatch.setenv("DVAE_DATA_DIR", str(shared_data))
  assert main.invoke("plot", "--run", f"AE={workdirs['ae']}", "--out", str(tmp_path)) == 0, capsys.readouterr().err
  assert sorted(p.name for p in tmp_path.iterdir()) == ["test_reconstructions.png", "validation_curves.png"]


def test_face_vae_as_original_trains_through_dvae_train_and_displays_true_images(face_folder, tmp_path, shared_data):
  """`dvae train` with the original's layout and head; the figures undo the layout as the original's displays did."""
  workdir = tmp_path / "run"
  flags = [f"--config.data.path={face_folder}", f"--config.data.cache_dir={tmp_path / 'cache'}"]
  flags += ["--config.data.image_size=32", "--config.train.num_epochs=1", "--config.train.progress_bar=False"]
  config = ["--config", "faces_vae:smoke,as_original", "--workdir", str(workdir)]
  result = dvae("train", *config, *flags, data_dir=shared_data)
  assert result.returncode == 0, result.stderr
  assert "no validation split" in result.stdout + result.stderr
  run = restore_run(workdir)
  assert (run.experiment.config.data.layout, run.experiment.hparams.posterior_head) == ("reshaped_chw", "dense_bn_relu")
  options = ImageFolderOptions(image_size=32)
  true = load_image_folder_split(face_folder, "test", cache_dir=tmp_path / "cache", options=options).images[:4]
  fed = run.split("test").take(np.arange(4))["image"]  # as stored: the original's scrambled layout
  assert not np.array_equal(fed, true)
  inputs, recon = figures.reconstructions(run.experiment, run.state, run.split("test"), 4)
  np.testing.assert_allclose(inputs, true / 255.0, atol=1e-6)  # displayed: the true images
  assert recon.shape == inputs.shape
  mean, logvar = run.encode(fed)
  assert float(np.min(mean)) >= 0.0 and float(np.min(np.exp(0.5 * logvar))) >= 1.0
