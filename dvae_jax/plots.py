"""Figures for reports (PNG): validation curves across runs, image comparisons, prior samples, and a
run's latent space (codes scattered by label, the decoded manifold, interpolations) and denoising.

Uses `matplotlib.figure.Figure` with the Agg canvas directly rather than pyplot, so importing this module selects
no global backend, never opens a window, and figures can be drawn from several threads.
"""

import math
import pathlib
import textwrap
from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dvae_jax.errors import WorkdirError
from dvae_jax.images import tile
from dvae_jax.metric_writer import read_metrics

DPI = 120
# What `plot_validation_curves` can draw, in order of preference, with the axis label of each: the
# first two that every run has are drawn, so that any family's runs can be compared.
CURVE_METRICS = (
  ("reference_loss", "reference 'test loss', nats"),
  ("kl_nats", "KLD, nats"),
  ("output_neg_elbo_nats", "-ELBO of the output, nats"),
  ("recon_mse", "squared error vs the clean image"),
  ("psnr_db", "PSNR vs the clean image, dB"),
  ("label_error", "label error"),
  ("objective_nats", "training objective, nats"),
)
_IMAGE_INCHES = 0.6  # Displayed size of one image in a grid: MNIST digits stay legible, 10 columns fit a page.
_LABEL_INCHES = 1.2  # Least room left of a grid for the row blocks' labels.


def validation_series(workdir: str | pathlib.Path, metric: str) -> tuple[np.ndarray, np.ndarray]:
  """Returns (epochs, values) of `metric` over the "valid" records of `workdir`, sorted by epoch.

  Non-finite values (stored as strings such as "nan") and records lacking the metric become np.nan.
  Raises ValueError naming the workdir if it has no validation records, or none of them has the metric.
  """
  records = [r for r in read_metrics(workdir) if r.get("split") == "valid"]
  if not records:
    raise ValueError(f"no validation records in {pathlib.Path(workdir) / 'metrics.jsonl'}")
  if not any(metric in r for r in records):
    raise ValueError(f"no validation record in {workdir} has metric {metric!r}")
  epochs = np.array([r["epoch"] for r in records], np.int64)
  values = np.array([float(r.get(metric, math.nan)) for r in records], np.float64)
  order = np.argsort(epochs, kind="stable")
  return epochs[order], values[order]


def has_validation_records(workdir: str | pathlib.Path) -> bool:
  """Whether the run at `workdir` logged any validation record (none when trained without a validation split)."""
  return any(r.get("split") == "valid" for r in read_metrics(workdir))


def common_metrics(runs: dict[str, str | pathlib.Path], *, limit: int = 2) -> list[tuple[str, str]]:
  """The first `limit` (metric, axis label) of CURVE_METRICS that every run's validation records have."""
  available = []
  for label, workdir in runs.items():
    records = [r for r in read_metrics(workdir) if r.get("split") == "valid"]
    if not records:
      raise WorkdirError(
        f"run {label!r}: no validation records in {pathlib.Path(workdir) / 'metrics.jsonl'}; expected the workdir "
        "of a run trained for at least one epoch."
      )
    available.append(set().union(*records))
  shared = [(metric, axis) for metric, axis in CURVE_METRICS if all(metric in keys for keys in available)]
  if not shared:
    raise WorkdirError(
      f"the runs {sorted(runs)} share none of the metrics a curve can show ({[m for m, _ in CURVE_METRICS]}); "
      "plot runs of comparable families together."
    )
  return shared[:limit]


def plot_validation_curves(
  runs: dict[str, str | pathlib.Path],
  path: str | pathlib.Path,
  *,
  metrics: Sequence[tuple[str, str]] | None = None,
  title: str | None = None,
) -> pathlib.Path:
  """One panel per (metric, axis label), x = epoch, one line per run (label -> workdir) on shared
  axes. Default metrics: the first two of CURVE_METRICS that every run has."""
  return _save(validation_figure(runs, metrics=metrics, title=title), path)


def validation_figure(
  runs: dict[str, str | pathlib.Path], *, metrics: Sequence[tuple[str, str]] | None = None, title: str | None = None
) -> Figure:
  """The figure of `plot_validation_curves`, not yet saved."""
  metrics = common_metrics(runs) if metrics is None and runs else metrics
  if not runs or not metrics:
    raise ValueError("need at least one run and one metric")
  # Read everything first so a bad workdir fails before any drawing.
  series = {
    (label, metric): validation_series(workdir, metric) for label, workdir in runs.items() for metric, _ in metrics
  }
  fig = Figure(figsize=(5.0 * len(metrics), 4.0), layout="constrained")
  axes = fig.subplots(1, len(metrics), squeeze=False)[0]
  for ax, (metric, ylabel) in zip(axes, metrics, strict=True):
    for label in runs:
      epochs, values = series[label, metric]
      ax.plot(epochs, values, marker="o", markersize=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"validation {ylabel}\n({metric})")
    epochs = sorted({int(e) for label in runs for e in series[label, metric][0]})
    if len(epochs) <= 12:  # a tick at each epoch, none between (a 1-epoch run has one point)
      ax.set_xticks(epochs)
      ax.set_xlim(epochs[0] - 0.5, epochs[-1] + 0.5)
    else:
      ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
  if title:
    fig.suptitle(title)
  return fig


def plot_epoch_curves(
  series: dict[str, dict[int, dict[int, float]]],
  path: str | pathlib.Path,
  *,
  ylabel: str,
  title: str | None = None,
  reference: dict[str, dict[int, float]] | None = None,
  reference_label: str = "reference",
) -> pathlib.Path:
  """One line per group (label -> seed -> {epoch: value}): the mean over seeds at each epoch, the seeds'
  range shaded; a reference series per group (label -> {epoch: value}) as black crosses on its line."""
  fig = Figure(figsize=(6.5, 4.2), layout="constrained")
  ax = fig.subplots()
  for index, (label, seeds) in enumerate(series.items()):
    color = colormaps["tab10"](index % 10)
    epochs = sorted({epoch for values in seeds.values() for epoch in values})
    table = np.array([[values.get(epoch, np.nan) for epoch in epochs] for values in seeds.values()])
    if not epochs:
      continue
    ax.plot(epochs, np.nanmean(table, axis=0), color=color, label=f"{label} (mean of {len(seeds)} seeds)")
    if len(seeds) > 1:
      ax.fill_between(epochs, np.nanmin(table, axis=0), np.nanmax(table, axis=0), color=color, alpha=0.2, lw=0)
    if points := (reference or {}).get(label):
      ax.plot(
        list(points), list(points.values()), "x", color="black", markersize=6, label=f"{label}: {reference_label}"
      )
  ax.set_xlabel("epoch")
  ax.set_ylabel(ylabel)
  ax.xaxis.set_major_locator(MaxNLocator(integer=True))
  ax.grid(alpha=0.3)
  ax.legend(fontsize="small")
  if title:
    fig.suptitle("\n".join(_title_lines(title, 6.5)), fontsize="medium")
  return _save(fig, path)


def plot_image_comparison(
  inputs: np.ndarray,
  outputs: dict[str, np.ndarray],
  path: str | pathlib.Path,
  *,
  columns: int = 10,
  title: str | None = None,
  inputs_of: dict[str, np.ndarray] | None = None,
) -> pathlib.Path:
  """A grid: a row block of the inputs, then one row block per model (label on the left), same images per column.

  Images are floats in [0, 1] of shape [N, H, W, C], C in (1, 3); every output must have its inputs' shape.
  N may exceed `columns`, then each block spans several rows. `inputs_of` gives the inputs of an output
  whose inputs are not `inputs` (a run on other data or preprocessing): they get a row block of their
  own above it, so that no output stands under images it was not made from.
  """
  blocks, current = [("input", np.asarray(inputs))], np.asarray(inputs)
  for label, images in outputs.items():
    own = (inputs_of or {}).get(label)
    if own is not None and (np.shape(own) != current.shape or not np.array_equal(own, current)):
      current = np.asarray(own)
      blocks.append((f"input of {label}", current))
    if np.shape(images) != current.shape:
      raise ValueError(f"outputs[{label!r}] has shape {np.shape(images)}, its inputs {current.shape}")
    blocks.append((label, images))
  return _plot_blocks(blocks, path, columns=columns, title=title)


def plot_reconstructions(
  inputs: np.ndarray,
  outputs: np.ndarray,
  path: str | pathlib.Path,
  *,
  output_label: str = "output",
  columns: int = 8,
  title: str | None = None,
) -> pathlib.Path:
  """Rows of `columns` inputs, each followed by the row of their outputs, every row labelled."""
  inputs, outputs = np.asarray(inputs), np.asarray(outputs)
  if outputs.shape != inputs.shape:
    raise ValueError(f"outputs have shape {outputs.shape}, the inputs {inputs.shape}")
  blocks = []
  for start in range(0, len(inputs), columns):
    blocks += [("input", inputs[start : start + columns]), (output_label, outputs[start : start + columns])]
  return _plot_blocks(blocks, path, columns=columns, title=title)


def plot_samples(
  samples: np.ndarray | dict[str, np.ndarray],
  path: str | pathlib.Path,
  *,
  columns: int = 10,
  title: str | None = None,
) -> pathlib.Path:
  """Samples from the prior as a grid, one labelled row block per model if a dict (label -> [N, H, W, C])."""
  blocks = list(samples.items()) if isinstance(samples, dict) else [(None, samples)]
  return _plot_blocks(blocks, path, columns=columns, title=title)


def plot_denoising(
  clean: np.ndarray, corrupted: np.ndarray, output: np.ndarray, path: str | pathlib.Path, *, title: str | None = None
) -> pathlib.Path:
  """Three rows, one column per image: the clean images, their corrupted versions, and the model's output
  for each corrupted image. All [N, H, W, C] floats in [0, 1] of the same shape."""
  clean = np.asarray(clean)
  for label, images in (("corrupted", corrupted), ("output", output)):
    if np.shape(images) != clean.shape:
      raise ValueError(f"{label} has shape {np.shape(images)}, the clean images {clean.shape}")
  blocks = [("clean", clean), ("corrupted", corrupted), ("output", output)]
  return _plot_blocks(blocks, path, columns=len(clean), title=title)


def plot_interpolations(
  images: np.ndarray,
  path: str | pathlib.Path,
  *,
  row_labels: Sequence[str] | None = None,
  title: str | None = None,
) -> pathlib.Path:
  """One row per interpolation path: images [P, S, H, W, C], S steps from left to right."""
  images = np.asarray(images)
  if images.ndim != 5:
    raise ValueError(f"interpolations must be [paths, steps, H, W, C], got {images.shape}")
  labels = row_labels or [None] * len(images)
  if len(labels) != len(images):
    raise ValueError(f"{len(labels)} row labels for {len(images)} interpolation paths")
  return _plot_blocks(list(zip(labels, images, strict=True)), path, columns=images.shape[1], title=title)


def principal_components(codes: np.ndarray, num: int = 2) -> tuple[np.ndarray, np.ndarray]:
  """Codes [N, D] projected on their first `num` principal axes [N, num], and each axis's fraction of the
  total variance [num]."""
  codes = np.asarray(codes, np.float64)
  if codes.ndim != 2 or len(codes) < 2 or codes.shape[1] < num:
    raise ValueError(f"need codes [N >= 2, D >= {num}] for {num} principal components, got {codes.shape}")
  centered = codes - codes.mean(axis=0)
  _, singular_values, axes = np.linalg.svd(centered, full_matrices=False)
  # An axis's sign is arbitrary: make its largest loading positive (as sklearn does), so that the
  # picture does not flip with the LAPACK build.
  axes = axes * np.sign(axes[np.arange(len(axes)), np.argmax(np.abs(axes), axis=1)])[:, None]
  variance = np.square(singular_values)
  fractions = variance / variance.sum() if variance.sum() > 0 else np.zeros_like(variance)
  return centered @ axes[:num].T, fractions[:num]


def latent_plane(codes: np.ndarray) -> tuple[np.ndarray, tuple[str, str]]:
  """Points [N, 2] to draw codes [N, D] at, and the two axis labels: a 2-D code is drawn as it is,
  a longer one by its first two principal components."""
  codes = np.asarray(codes)
  if codes.ndim == 2 and codes.shape[1] == 2:
    return codes, ("z1", "z2")
  points, fractions = principal_components(codes, 2)
  return points, tuple(f"PC {i + 1} ({100 * f:.1f}% of variance)" for i, f in enumerate(fractions))


def plot_latent_scatter(
  codes: np.ndarray, labels: np.ndarray, path: str | pathlib.Path, *, title: str | None = None
) -> pathlib.Path:
  """Codes [N, D] (D >= 2) as points coloured by their integer labels [N], with a colorbar of the labels.

  D = 2: the axes are z1 and z2; D > 2: the first two principal components, labelled with the share of
  the variance each holds.
  """
  labels = np.asarray(labels)
  if len(labels) != len(codes):
    raise ValueError(f"{len(codes)} codes but {len(labels)} labels")
  points, (xlabel, ylabel) = latent_plane(codes)
  num_classes = int(labels.max()) + 1
  # Distinct qualitative colours where there are enough of them; a sequential map beyond.
  if num_classes <= 10:
    cmap = ListedColormap(colormaps["tab10"].colors[:num_classes])
  elif num_classes <= 20:
    cmap = ListedColormap(colormaps["tab20"].colors[:num_classes])
  else:
    cmap = colormaps["viridis"].resampled(num_classes)
  norm = BoundaryNorm(np.arange(num_classes + 1) - 0.5, num_classes)
  fig = Figure(figsize=(6.5, 5.5), layout="constrained")
  ax = fig.subplots()
  dots = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap=cmap, norm=norm, s=4, alpha=0.7, linewidths=0)
  fig.colorbar(dots, ax=ax, ticks=np.arange(num_classes) if num_classes <= 20 else None, label="label")
  ax.set_xlabel(xlabel)
  ax.set_ylabel(ylabel)
  ax.grid(alpha=0.3)
  if title:
    fig.suptitle(title)
  return _save(fig, path)


def plot_manifold(
  images: np.ndarray, path: str | pathlib.Path, *, extent: float, title: str | None = None
) -> pathlib.Path:
  """Images [rows, columns, H, W, C] decoded from an evenly spaced grid of 2-D codes over
  [-extent, extent]^2 (column j: z1 increasing left to right; row i: z2 decreasing top to bottom),
  tiled edge to edge into one picture whose axes give z1 and z2 at each image's centre."""
  images = np.asarray(images)
  if images.ndim != 5 or min(images.shape[:2]) < 2 or images.shape[-1] not in (1, 3):
    raise ValueError(f"a manifold must be [rows >= 2, columns >= 2, H, W, C] with C in (1, 3), got {images.shape}")
  rows, columns, height, width, channels = images.shape
  canvas = np.clip(images, 0.0, 1.0).transpose(0, 2, 1, 3, 4).reshape(rows * height, columns * width, channels)
  half_x, half_y = extent / (columns - 1), extent / (rows - 1)  # half the spacing of the image centres
  # About 1.5 screen pixels per image pixel, so no decoded pixel is lost to resampling.
  fig = Figure(figsize=(1.5 * canvas.shape[1] / DPI + 1.0, 1.5 * canvas.shape[0] / DPI + 0.8), layout="constrained")
  ax = fig.subplots()
  ax.imshow(
    canvas[..., 0] if channels == 1 else canvas,
    cmap="gray" if channels == 1 else None,
    vmin=0.0,
    vmax=1.0,
    interpolation="nearest",
    extent=(-extent - half_x, extent + half_x, -extent - half_y, extent + half_y),
  )
  ax.set_xlabel("z1")
  ax.set_ylabel("z2")
  if title:
    ax.set_title(title)
  return _save(fig, path)


def _plot_blocks(
  blocks: list[tuple[str | None, np.ndarray]], path: str | pathlib.Path, *, columns: int, title: str | None
) -> pathlib.Path:
  """Draws each block of images as one tiled panel, stacked vertically and labelled on the left."""
  if not blocks:
    raise ValueError("no images to plot")
  grids, image_widths = [], []
  for label, images in blocks:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or not len(images):
      raise ValueError(f"{label or 'images'}: must be [N, H, W, C] with N > 0 and C in (1, 3), got {images.shape}")
    # Never more columns than images, or a small block would be mostly blank padding.
    grids.append(tile(images, columns=min(columns, len(images))).astype(np.float32) / 255.0)
    image_widths.append(images.shape[2] + 2)  # One image plus `tile`'s padding, in pixels.
  width = max(grid.shape[1] for grid in grids)
  scale = _IMAGE_INCHES / max(image_widths)
  heights = [grid.shape[0] for grid in grids]
  longest = max((len(label) for label, _ in blocks if label), default=0)
  label_inches = max(_LABEL_INCHES, 0.1 * longest + 0.3) if longest else 0.2  # about 0.1 inch a character
  fig = Figure(
    figsize=(width * scale + label_inches, sum(heights) * scale + _title_inches(title, width * scale + label_inches)),
    layout="constrained",
  )
  axes = fig.subplots(len(grids), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
  for ax, grid, (label, _) in zip(axes, grids, blocks, strict=True):
    # Gray colormap with fixed limits so that a faint digit is not stretched to full contrast.
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
      spine.set_visible(False)
    if label:
      ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=11)
  if title:
    fig.suptitle("\n".join(_title_lines(title, fig.get_figwidth())), fontsize=10)
  return _save(fig, path)


def _save(fig: Figure, path: str | pathlib.Path) -> pathlib.Path:
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  FigureCanvasAgg(fig)  # Attaches the Agg canvas to the figure, no pyplot or global backend involved.
  fig.savefig(path, dpi=DPI, format="png")
  return path


def _title_lines(title: str, width_inches: float) -> list[str]:
  """A title wrapped to a figure's width (about 11 characters of 10-point text per inch), so no word is cut."""
  return textwrap.wrap(title, max(24, int(width_inches * 11)))


def _title_inches(title: str | None, width_inches: float) -> float:
  """Room above a grid for its title, wrapped as `_plot_blocks` wraps it."""
  return 0.2 + 0.22 * len(_title_lines(title, width_inches)) if title else 0.2
