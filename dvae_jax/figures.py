"""Figures of one trained run, drawn through its module's methods (models/family.py lists them):

  scatter        posterior means (`encode`) of test images, coloured by label; PCA to 2-D beyond a 2-D latent
  manifold       a 2-D latent's grid of codes over [-2, 2]^2 decoded by `output_logits`
  denoising      clean / corrupted / output rows, for a family with `corrupt`
  interpolation  decoded straight lines between the posterior means of pairs of test images
  samples        decoded draws of `sample_prior`, one row per component of a mixture prior

`make_run_figures(workdir)` is what `dvae figures` runs; `make_comparison_figures(runs, out)` what
`dvae plot` runs (several runs' validation curves, outputs and prior samples side by side). A
figure the run's model cannot draw (a classifier has no latent code, only a 2-D latent has a plane
to scan) is skipped with the reason, not an error. Random draws come from the run's "sample" key:
the same run gives the same figures. Images are drawn as true images: a run fed a scrambled layout
(data.layout) has it undone first (`shown`), as the original's displays did.
"""

import dataclasses
import pathlib
import sys
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from dvae_jax import clustering, parallel, plots
from dvae_jax.data import Split
from dvae_jax.data.common import from_layout
from dvae_jax.errors import WorkdirError
from dvae_jax.experiment import Experiment, TrainState, module_rngs
from dvae_jax.inference import Run, restore_run
from dvae_jax.workdir import output_dir

FIGURES = ("scatter", "manifold", "denoising", "interpolation", "samples")


class FigureSkipped(Exception):
  """The run's model cannot draw this figure; the message says why."""


def _require(run: Run, lacking: str, *methods: str) -> None:
  """Skips the figure unless the run's module has all of `methods`; `lacking` says what the model then lacks."""
  missing = [name for name in methods if not hasattr(run.experiment.family.module, name)]
  if missing:
    raise FigureSkipped(
      f"the {run.experiment.hparams.family!r} family has {lacking} (its module has no {' or '.join(missing)})."
    )


def shown(experiment: Experiment, images: np.ndarray | jax.Array) -> np.ndarray:
  """Images [..., H, W, C] in the layout the network sees -> as they are displayed (config.data.layout undone)."""
  return from_layout(np.asarray(images), experiment.config.data.layout)


def latent_dim(run: Run) -> int:
  """The length of the model's code (`encode`'s mean), found from shapes alone."""
  image = jax.ShapeDtypeStruct((1, *run.experiment.hparams.image_shape), jnp.float32)
  mean = jax.eval_shape(
    lambda state, x: run.experiment.model.apply(Experiment.variables(state), x, method="encode")[0], run.state, image
  )
  return mean.shape[-1]


def posterior_means(run: Run, split: Split, num: int) -> tuple[np.ndarray, np.ndarray]:
  """(posterior means [N, z], labels [N]) of the first `num` images of `split` (all if fewer)."""
  data = split.head(num)
  return clustering.posterior_means(run.experiment, run.state, data), data.labels


def component_rows(run: Run, split: str = "test") -> list[tuple[int, str]]:
  """(component, row label) of each mixture component, in the order of the labels of `split` they match
  one-to-one (the Hungarian mapping of the cluster accuracy; unmatched components last), for a model that
  clusters; else in index order."""
  components = run.experiment.hparams.prior.components
  data = run.split(split)
  if not clustering.clusters(run.experiment) or not len(data):
    return [(k, f"component {k}") for k in range(components)]
  matched = clustering.matched_labels(clustering.cluster_counts(run.experiment, run.state, data))
  order = sorted(range(components), key=lambda k: (k not in matched, matched.get(k, 0), k))
  return [(k, f"label {matched[k]} (component {k})" if k in matched else f"component {k} (unmatched)") for k in order]


def manifold_images(run: Run, *, size: int = 20, extent: float = 2.0) -> np.ndarray:
  """Outputs [size, size, H, W, C] decoded from a grid over [-extent, extent]^2 of a 2-D latent:
  entry [i, j] decodes z = (z1_j, z2_i), z1 increasing with j, z2 decreasing with i (the top row
  is z2 = extent), as in the original's figure."""
  values = np.linspace(-extent, extent, size)
  z1, z2 = np.meshgrid(values, values[::-1])  # [size, size] each, indexed [row, column]
  return run.decode(np.stack([z1, z2], axis=-1))


def denoising_examples(run: Run, split: Split, num: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(clean, corrupted, output) [N, H, W, C] for the first `num` images of `split`.

  The corruption and the output come from one forward pass (eval mode) with the "sample" key: the
  output is the model's reconstruction of that very corrupted image, as an image in [0, 1]
  (LikelihoodConfig.image: a linear output clipped). The family's outputs must hold "noisy" (the
  corrupted input) and "logits" ([S, B, H, W, C], the first draw is shown).
  """
  experiment = run.experiment
  model, hparams = experiment.model, experiment.hparams

  @jax.jit
  def forward(state, batch, key):
    clean = experiment.prepare(batch)["image"]
    outputs = model.apply(Experiment.variables(state), clean, train=False, rngs=module_rngs(key))
    if "noisy" not in outputs:
      family = experiment.hparams.family
      raise FigureSkipped(f"the {family!r} family's outputs do not include the corrupted input 'noisy'.")
    return clean, outputs["noisy"], hparams.image(hparams.mean(outputs["logits"][0]))

  batch = split.take(np.arange(min(num, len(split))))
  return tuple(np.asarray(images) for images in forward(run.state, batch, experiment.keys["sample"]))


def interpolations(run: Run, split: Split, *, pairs: int = 8, steps: int = 10) -> tuple[np.ndarray, list[str]]:
  """Outputs [P, steps, H, W, C] decoded along straight lines in latent space from the posterior mean
  of test image p to that of image p + P (P = pairs, fewer if the split is short), and a row label each."""
  pairs = min(pairs, len(split) // 2)
  means, _ = posterior_means(run, split, 2 * pairs)
  start, end = means[:pairs, None], means[pairs:, None]  # [P, 1, z]
  weight = np.linspace(0.0, 1.0, steps)[None, :, None]  # [1, steps, 1]
  labels = [f"{p} \N{RIGHTWARDS ARROW} {p + pairs}" for p in range(pairs)]
  return run.decode((1.0 - weight) * start + weight * end), labels


def prior_component_samples(run: Run, num: int) -> np.ndarray:
  """Outputs [K, num, H, W, C] decoded from `num` draws of each of the prior's K mixture components."""
  model = run.experiment.model

  @jax.jit
  def sample(state, key):
    return model.apply(Experiment.variables(state), key, num, method="sample_prior_components")  # [K, num, z]

  return run.decode(sample(run.state, run.experiment.keys["sample"]))


def latent_scatter(run: Run, path: pathlib.Path, *, split: str = "test", num_images: int = 5000) -> pathlib.Path:
  """Posterior means of the first `num_images` images of `split`, coloured by label (PCA beyond 2-D)."""
  _require(run, "no latent code", "encode")
  if (dim := latent_dim(run)) < 2:
    raise FigureSkipped(f"a scatter needs a latent of 2 or more dimensions; this model's has {dim}.")
  codes, labels = posterior_means(run, run.split(split), num_images)
  projection = "" if dim == 2 else f" (PCA of {dim}-D codes)"
  title = f"posterior means of the first {len(codes)} {split} images{projection}"
  return plots.plot_latent_scatter(codes, labels, path, title=title)


def latent_manifold(run: Run, path: pathlib.Path, *, size: int = 20, extent: float = 2.0) -> pathlib.Path:
  """The outputs of a size x size grid of codes over [-extent, extent]^2, for a 2-D latent only."""
  _require(run, "no latent code to decode", "encode", "output_logits")
  if (dim := latent_dim(run)) != 2:
    raise FigureSkipped(
      f"the manifold scans a 2-D latent plane; this model's latent has {dim} dimensions "
      "(the scatter shows its codes on their first two principal components)."
    )
  images = shown(run.experiment, manifold_images(run, size=size, extent=extent))
  title = f"outputs decoded over [{-extent:g}, {extent:g}]$^2$ ({size} x {size})"
  return plots.plot_manifold(images, path, extent=extent, title=title)


def denoising(run: Run, path: pathlib.Path, *, split: str = "test", num_images: int = 10) -> pathlib.Path:
  """Rows clean / corrupted / output for the first `num_images` images of `split` (one noise draw)."""
  _require(run, "no input corruption", "corrupt")
  corruption = getattr(run.experiment.hparams, "corruption", None)
  if getattr(corruption, "name", None) == "none":
    raise FigureSkipped("the model corrupts nothing (model.corruption.name='none'): it is not a denoiser.")
  clean, corrupted, output = (shown(run.experiment, x) for x in denoising_examples(run, run.split(split), num_images))
  title = f"{split} images, {_describe(corruption)} corruption" if corruption is not None else f"{split} images"
  return plots.plot_denoising(clean, corrupted, output, path, title=title)


def _describe(corruption) -> str:
  """GaussianCorruption(name='gaussian', std=0.5, clip=True) -> "gaussian (std=0.5, clip=True)"."""
  fields = [f.name for f in dataclasses.fields(corruption) if f.name != "name"]
  settings = ", ".join(f"{name}={getattr(corruption, name)}" for name in fields)
  return f"{corruption.name} ({settings})" if settings else corruption.name


def interpolation(
  run: Run, path: pathlib.Path, *, split: str = "test", pairs: int = 8, steps: int = 10
) -> pathlib.Path:
  """One row per pair of images of `split`: outputs along the straight line between their posterior means."""
  _require(run, "no latent code to decode", "encode", "output_logits")
  if len(run.split(split)) < 2:
    raise FigureSkipped(f"the {split} split has fewer than 2 images to interpolate between.")
  images, labels = interpolations(run, run.split(split), pairs=pairs, steps=steps)
  images = shown(run.experiment, images)
  title = f"outputs along straight lines between posterior means of {split} images (row: image indices)"
  return plots.plot_interpolations(images, path, row_labels=labels, title=title)


def samples(run: Run, path: pathlib.Path, *, num_images: int = 10) -> pathlib.Path:
  """A num_images x num_images grid of prior samples, or `num_images` per mixture component, one row each."""
  _require(run, "no prior to sample from", "sample_prior", "output_logits")
  if getattr(getattr(run.experiment.hparams, "prior", None), "components", None):  # a mixture: a row each
    components = shown(run.experiment, prior_component_samples(run, num_images))
    blocks = {label: components[k] for k, label in component_rows(run)}
    title = "samples from each prior component (rows: the test label each matches one-to-one)"
    return plots.plot_samples(blocks, path, columns=num_images, title=title)
  images = shown(run.experiment, run.sample(num_images * num_images))
  return plots.plot_samples(images, path, columns=num_images, title="samples from the prior")


def make_run_figures(
  workdir: str | pathlib.Path, out_dir: str | pathlib.Path | None = None, *, which: Sequence[str] = FIGURES, **options
) -> tuple[list[pathlib.Path], dict[str, str]]:
  """Draws the figures named in `which` (see FIGURES) for the latest checkpoint in `workdir`, into
  `out_dir` (default <workdir>/figures, if it can be written); `options` as for `draw_figures`. The
  run is only read: it may be read-only, or training.

  Returns (the written paths, {figure: why it was skipped} for those the model cannot draw).
  """
  _check_names(which)
  workdir = pathlib.Path(workdir)
  out_dir = output_dir(workdir, out_dir, default=workdir / "figures", what="the figures")
  return draw_figures(restore_run(workdir), out_dir, which=which, **options)


def draw_figures(
  run: Run,
  out_dir: str | pathlib.Path,
  *,
  which: Sequence[str] = FIGURES,
  split: str = "test",
  num_codes: int = 5000,
  num_images: int = 10,
) -> tuple[list[pathlib.Path], dict[str, str]]:
  """`make_run_figures` for a restored run: `num_codes` test images in the scatter, `num_images` per
  row of the denoising and samples figures."""
  _check_names(which)
  out_dir = pathlib.Path(out_dir)
  draw: dict[str, Callable[[], pathlib.Path]] = {
    "scatter": lambda: latent_scatter(run, out_dir / f"{split}_latent_scatter.png", split=split, num_images=num_codes),
    "manifold": lambda: latent_manifold(run, out_dir / "latent_manifold.png"),
    "denoising": lambda: denoising(run, out_dir / f"{split}_denoising.png", split=split, num_images=num_images),
    "interpolation": lambda: interpolation(run, out_dir / f"{split}_interpolation.png", split=split),
    "samples": lambda: samples(run, out_dir / "prior_samples.png", num_images=num_images),
  }
  written, skipped = [], {}
  for name in dict.fromkeys(which):  # each once, in the order asked
    try:
      written.append(draw[name]())
    except FigureSkipped as e:
      skipped[name] = str(e)
  return written, skipped


def _check_names(which: Sequence[str]) -> None:
  unknown = [name for name in which if name not in FIGURES]
  if unknown:
    raise ValueError(f"unknown figure(s) {', '.join(unknown)}; expected some of {', '.join(FIGURES)}.")


def make_comparison_figures(
  runs: dict[str, str | pathlib.Path], out_dir: str | pathlib.Path, *, num_images: int = 10, split: str = "test"
) -> list[pathlib.Path]:
  """Validation curves of all runs on the same axes (skipped, with a note on stderr, when a run was
  trained without a validation split), test inputs beside every run's output, and samples from each
  run's prior. `runs` maps a label to a workdir."""
  out_dir = pathlib.Path(out_dir)
  for label, workdir in runs.items():
    if not (pathlib.Path(workdir) / "config.json").is_file():
      raise WorkdirError(
        f"--run {label}={workdir}: {workdir} is not a workdir written by `dvae train` (it has no config.json)."
      )
  unvalidated = [label for label, workdir in runs.items() if not plots.has_validation_records(workdir)]
  if unvalidated:
    print(
      f"dvae plot: skipped validation_curves: {', '.join(unvalidated)} trained without a validation split "
      "(data.validation_fraction=0), so there are no validation curves to compare.",
      file=sys.stderr,
    )
    written = []
  else:
    written = [plots.plot_validation_curves(runs, out_dir / "validation_curves.png")]
  restored = {label: restore_run(workdir) for label, workdir in runs.items()}
  generative = {label: run for label, run in restored.items() if run.experiment.family.generative}
  if generative:
    pairs = {
      label: reconstructions(run.experiment, run.state, run.split(split), num_images)
      for label, run in generative.items()
    }
    inputs = next(iter(pairs.values()))[0]
    outputs = {label: output for label, (_, output) in pairs.items()}
    inputs_of = {label: run_inputs for label, (run_inputs, _) in pairs.items()}
    path = out_dir / f"{split}_reconstructions.png"
    written.append(plots.plot_image_comparison(inputs, outputs, path, inputs_of=inputs_of))
  samples = {
    label: shown(run.experiment, run.sample(2 * num_images))
    for label, run in restored.items()
    if run.experiment.family.latent
  }
  if samples:
    written.append(plots.plot_samples(samples, out_dir / "prior_samples.png"))
  return written


def reconstructions(experiment: Experiment, state: TrainState, split: Split, num: int) -> tuple[np.ndarray, np.ndarray]:
  """(inputs, one stochastic reconstruction each) for the first `num` images of `split`, as displayed (`shown`)."""
  inputs, recon = experiment.reconstruct(state, split.take(np.arange(num)), experiment.keys["sample"])
  return shown(experiment, inputs), shown(experiment, recon)


def save_reconstructions(
  experiment: Experiment, state: TrainState, split: Split, path: pathlib.Path, *, split_name: str = "validation"
) -> pathlib.Path | None:
  """Labelled rows of inputs and their reconstructions (none when config.train.grid_images is 0)."""
  n = min(experiment.config.train.grid_images, len(split))
  if not n:
    return None
  inputs, recon = reconstructions(experiment, state, split, n)
  if not parallel.is_primary():
    return None
  generators = experiment.family.generators
  output = generators[0].label.replace("_", " ") + " output" if len(generators) > 1 else "reconstruction"
  title = f"{split_name} images and one stochastic reconstruction each (step {int(state.step)})"
  return plots.plot_reconstructions(inputs, recon, path, output_label=output, title=title)
