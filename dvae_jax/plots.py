"""Figures for reports: validation curves across runs, image comparisons and prior samples (PNG).

Uses `matplotlib.figure.Figure` with the Agg canvas directly rather than pyplot, so importing this module selects
no global backend, never opens a window, and figures can be drawn from several threads.
"""

import math
import pathlib
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dvae_jax.images import tile
from dvae_jax.metric_writer import read_metrics

DPI = 120
DEFAULT_METRICS = (("reference_loss", "validation loss (nats)"), ("kl_nats", "validation KLD (nats)"))
_IMAGE_INCHES = 0.6  # Displayed size of one image in a grid: MNIST digits stay legible, 10 columns fit a page.
_LABEL_INCHES = 1.2  # Room left of a grid for the row block's label.


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


def plot_validation_curves(
  runs: dict[str, str | pathlib.Path],
  path: str | pathlib.Path,
  *,
  metrics: Sequence[tuple[str, str]] = DEFAULT_METRICS,
  title: str | None = None,
) -> pathlib.Path:
  """One panel per (metric, axis label), x = epoch, one line per run (label -> workdir) on shared axes."""
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
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
  if title:
    fig.suptitle(title)
  return _save(fig, path)


def plot_image_comparison(
  inputs: np.ndarray,
  outputs: dict[str, np.ndarray],
  path: str | pathlib.Path,
  *,
  columns: int = 10,
  title: str | None = None,
) -> pathlib.Path:
  """A grid: a row block of the inputs, then one row block per model (label on the left), same images per column.

  Images are floats in [0, 1] of shape [N, H, W, C], C in (1, 3); every output must have the inputs' shape.
  N may exceed `columns`, then each block spans several rows.
  """
  inputs = np.asarray(inputs)
  for label, images in outputs.items():
    if np.shape(images) != inputs.shape:
      raise ValueError(f"outputs[{label!r}] has shape {np.shape(images)}, the inputs {inputs.shape}")
  return _plot_blocks([("input", inputs), *outputs.items()], path, columns=columns, title=title)


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
  has_labels = any(label for label, _ in blocks)
  fig = Figure(
    figsize=(width * scale + (_LABEL_INCHES if has_labels else 0.2), sum(heights) * scale + (0.5 if title else 0.2)),
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
    fig.suptitle(title)
  return _save(fig, path)


def _save(fig: Figure, path: str | pathlib.Path) -> pathlib.Path:
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  FigureCanvasAgg(fig)  # Attaches the Agg canvas to the figure, no pyplot or global backend involved.
  fig.savefig(path, dpi=DPI, format="png")
  return path
