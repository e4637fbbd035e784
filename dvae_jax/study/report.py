"""`dvae study report`: a study's tables from its finished runs, as OUT/README.md and OUT/runs.csv.

Per cell (group x metric): the mean ± sample standard deviation (ddof = 1) over the seeds whose run
finished, with n; per declared comparison "A - B": the paired difference over the seeds both groups
have (stats.paired_difference), its mean, sd, 95% t interval and whether the interval excludes 0;
published values under their group where the study gives them. Wall time: a run's training minutes
are the sum of `epoch_seconds` over its metrics.jsonl epoch-end records (each epoch's wall time:
training, validation, checkpoints and the first epoch's compilation; of a resumed run, the epochs as
resumed, so the part of an epoch lost to a stop is not counted); evaluation is not included.

The runs are described by what they recorded (provenance.py): each group's settings come from its
runs' config.json and eval_test.json, and a finished run that ran otherwise than the study file asks
for now (identity, training length, an override, its evaluation) is an error naming it and how to
redo it: a report never labels a run with settings it did not run. A run without a config.json (not
written by `dvae train`) is flagged as unchecked. jax comes in only with the config package, which
builds the configs the study asks for.
"""

import csv
import dataclasses
import io
import json
import math
import pathlib

from dvae_jax.errors import WorkdirError
from dvae_jax.metric_writer import epoch_series
from dvae_jax.reports.headline import HEADLINE
from dvae_jax.study import provenance, spec, stats
from dvae_jax.study.spec import Study, StudyRun

# reports.HEADLINE's labels, with the generic words of a table that may mix families and likelihoods.
LABELS = {key: label.format(loss="reconstruction loss", label_error="label error").strip() for label, key in HEADLINE}
WALL_COLUMN = "train_minutes"


@dataclasses.dataclass(frozen=True)
class Result:
  """A run and, once finished, its eval_test.json numbers, training minutes and records."""

  run: StudyRun
  metrics: dict[str, float] | None  # None: not finished
  train_minutes: float | None = None
  recorded: provenance.Recorded | None = None  # of a finished run


def _number(value) -> int | float | None:
  """A finite number of eval_test.json as it is (ints stay ints in the CSV), else None."""
  if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
    return None
  return value


def train_minutes(workdir: pathlib.Path) -> float | None:
  """The sum of epoch_seconds of a run's metrics.jsonl epoch-end records ("valid", or "epoch" for a run
  without a validation split), in minutes (None: no record)."""
  path = workdir / "metrics.jsonl"
  try:
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
  except OSError:
    return None
  except json.JSONDecodeError as e:
    raise WorkdirError(f"{path}: not JSON lines ({e.msg}); expected the metrics `dvae train` writes.") from None
  seconds = [
    r["epoch_seconds"] for r in records if r.get("split") in ("valid", "epoch") and _number(r.get("epoch_seconds"))
  ]
  return sum(seconds) / 60 if seconds else None


def collect(study: Study, runs_root: str | pathlib.Path) -> list[Result]:
  """Every run of the study, with the numbers and records of those that finished (eval_test.json exists)."""
  results = []
  for run in spec.runs(study, runs_root):
    if not (run.workdir / "eval_test.json").exists():
      results.append(Result(run, None))
      continue
    recorded = provenance.check(run)
    numbers = {key: number for key, value in recorded.evaluation.items() if (number := _number(value)) is not None}
    results.append(Result(run, numbers, train_minutes(run.workdir), recorded))
  return results


def check_records(study: Study, results: list[Result]) -> None:
  """A WorkdirError naming every finished run that recorded other settings than the study asks for now."""
  differ = [r.recorded for r in results if r.recorded is not None and r.recorded.differences]
  if differ:
    raise WorkdirError(
      f"study {study.name}: {len(differ)} finished run{'s' if len(differ) > 1 else ''} ran otherwise than the "
      f"study file asks now (recorded -> asked): {'; '.join(r.describe() for r in differ)}. A report would label "
      "their numbers with settings they did not run, so none was written and nothing was changed. Undo the change "
      "to the study file, or redo those runs as shown and rerun `dvae study run`, then `dvae study report`."
    )


def _decimals(values: list[float]) -> int:
  """Decimals that show about 4 significant digits of the largest magnitude: 123.45, 1.2345, 0.012345."""
  largest = max((abs(v) for v in values if v), default=1.0)
  return min(6, max(2, 4 - math.floor(math.log10(largest))))


def _cell(summary: stats.Summary, decimals: int, group_n: int) -> str:
  if summary.n == 0:
    return "-"
  if summary.n == 1:
    return f"{summary.mean:.{decimals}f} (n = 1, no spread)"
  suffix = "" if summary.n == group_n else f" (n = {summary.n})"
  return f"{summary.mean:.{decimals}f} ± {summary.sd:.{decimals}f}{suffix}"


def _row(cells: list) -> str:
  return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _table(header: list[str], rows: list[list]) -> str:
  return "\n".join([_row(header), _row(["---"] * len(header)), *(_row(row) for row in rows)])


def _by_seed(results: list[Result], group: str, key: str) -> dict[int, float]:
  return {
    r.run.seed: r.metrics[key] for r in results if r.run.group == group and r.metrics is not None and key in r.metrics
  }


def _group_table(study: Study, table: spec.Table, results: list[Result]) -> str:
  groups, columns = spec.table_groups(study, table), table.columns()
  expanded = spec.expand_groups(study)
  header = ["group", "seeds", "n", *(metric.label or LABELS.get(metric.key, metric.key) for metric in columns)]
  rows = []
  for name in groups:
    finished = [r for r in results if r.run.group == name and r.metrics is not None]
    cells = [name, ", ".join(str(r.run.seed) for r in finished) or "-", len(finished)]
    decimals = {m.key: _decimals([v for g in groups for v in _by_seed(results, g, m.key).values()]) for m in columns}
    for metric in columns:
      values = list(_by_seed(results, name, metric.key).values())
      cells.append(_cell(stats.summarize(values), decimals[metric.key], len(finished)))
    rows.append(cells)
    for result in finished if table.per_seed else []:
      values = [result.metrics.get(m.key) for m in columns]
      rows.append([f"{name}: seed {result.run.seed}", result.run.seed, 1, *_seed_cells(values, columns, decimals)])
    if published := expanded[name].published:
      rows.append([f"{name}: published", "", "", *(_published(published.get(m.key)) for m in columns)])
  return _table(header, rows)


def _seed_cells(values: list, columns: list[spec.Metric], decimals: dict[str, int]) -> list[str]:
  return ["-" if value is None else f"{value:.{decimals[m.key]}f}" for value, m in zip(values, columns, strict=True)]


def _published(value) -> str:
  return "-" if value is None else f"{value:g}"


def _comparison_table(table: spec.Table, results: list[Result]) -> str:
  header = ["comparison", "metric", "n", "mean", "sd", "95% interval", "excludes 0"]
  rows = []
  for first, second in table.pairs():
    for metric in table.columns():
      difference = stats.paired_difference(_by_seed(results, first, metric.key), _by_seed(results, second, metric.key))
      label = metric.label or LABELS.get(metric.key, metric.key)
      if difference.n == 0:
        rows.append([f"{first} - {second}", label, 0, "-", "-", "no seed in common", "-"])
        continue
      values = [v for r in results if r.metrics and metric.key in r.metrics for v in [r.metrics[metric.key]]]
      decimals = _decimals(values)
      if difference.n == 1:
        interval, sd, excludes = "n = 1, no interval", "-", "-"
      else:
        low, high = difference.interval
        interval, sd = f"[{low:.{decimals}f}, {high:.{decimals}f}]", f"{difference.sd:.{decimals}f}"
        excludes = "yes" if difference.excludes_zero else "no"
      rows.append(
        [f"{first} - {second}", label, difference.n, f"{difference.mean:+.{decimals}f}", sd, interval, excludes]
      )
  return _table(header, rows)


def _runs_table(study: Study, results: list[Result]) -> str:
  """What each group's finished runs ran, from their records: the keys the group overrides and the training
  length (config.json), the epoch and step evaluated and the importance sampling (eval_test.json)."""
  rows = []
  for name, group in spec.expand_groups(study).items():
    finished = [r for r in results if r.run.group == name and r.recorded is not None]
    recorded = [r.recorded.config for r in finished if r.recorded.config is not None]
    keys = dict.fromkeys([*(k for k in group.overrides if not spec.is_evaluation_key(k)), *provenance.TRAINING_KEYS])
    if recorded:
      settings = ", ".join(f"{key}={_distinct(provenance.setting(c, key) for c in recorded)}" for key in keys)
    else:
      settings = "not recorded (no config.json)" if finished else "-"
    evaluations = [r.recorded.evaluation for r in finished]
    seeds = ", ".join(str(seed) for seed in (study.seeds if group.seeds is None else group.seeds))
    classifier = spec.classifier_of(study, group)
    rows.append(
      [
        name,
        f"`{group.experiment}`",
        settings,
        seeds,
        _distinct((_evaluated_at(e) for e in evaluations), text=True),
        _distinct((_evaluation(e, classifier) for e in evaluations), text=True),
      ]
    )
  header = ["group", "experiment", "settings (config.json)", "seeds", "evaluated at", "evaluation (eval_test.json)"]
  return _table(header, rows)


def _distinct(values, *, text: bool = False) -> str:
  """The values of a group's runs, each once, in order: one where they agree ("-" for none)."""
  found = list(dict.fromkeys(str(v) if text else repr(v) for v in values))
  return " or ".join(found) or "-"


def _evaluated_at(evaluation: dict) -> str:
  step = f"step {evaluation['step']}" if "step" in evaluation else "step not recorded"
  return f"epoch {evaluation['epoch']:g} ({step})" if _number(evaluation.get("epoch")) is not None else step


def _evaluation(evaluation: dict, classifier: str | None) -> str:
  parts = []
  if "iw_samples" in evaluation:
    images = f" on {evaluation['iw_num_examples']} images" if "iw_num_examples" in evaluation else ""
    parts.append(f"NLL: {evaluation['iw_samples']} importance samples{images}")
  if "recomputed_batch_norm_batches" in evaluation:
    parts.append(f"batch norm recomputed on {evaluation['recomputed_batch_norm_batches']} batches")
  if "classifier_workdir" in evaluation:
    parts.append(f"classifier: {classifier or evaluation['classifier_workdir']}")
  return ", ".join(parts) or "-"


def curve_series(study: Study, curve: spec.Curve, results: list[Result]) -> dict[str, dict[int, dict[int, float]]]:
  """group -> seed -> {epoch: value - curve.offset} of the finished runs of the curve's groups."""
  groups = spec.table_groups(study, spec.Table(metrics=(), title=curve.title, groups=curve.groups))
  return {
    name: {
      r.run.seed: {
        epoch: value - curve.offset for epoch, value in epoch_series(r.run.workdir, curve.metric, curve.split).items()
      }
      for r in results
      if r.run.group == name and r.metrics is not None
    }
    for name in groups
  }


def _curve_section(curve: spec.Curve, series: dict[str, dict[int, dict[int, float]]]) -> list[str]:
  """The curve's table (one row per epoch: each group's mean ± sd over seeds, its reference, the relative gap
  and how many seeds lie below the reference) and a sentence per referenced group on its largest gap."""
  epochs = sorted({e for seeds in series.values() for values in seeds.values() for e in values})
  every = [v for seeds in series.values() for values in seeds.values() for v in values.values()]
  marked = {e for points in curve.reference.values() for e in points} | set(curve.seed_epochs)
  if marked and epochs:  # the rows that matter, and the last epoch; the figure has every epoch
    epochs = [e for e in epochs if e in marked or e in (epochs[0], epochs[-1])]
  decimals = _decimals(every)
  header, rows, notes = ["epoch"], [[epoch] for epoch in epochs], []
  for name, seeds in series.items():
    reference = curve.reference.get(name, {})
    header.append(f"{name}, mean ± sd")
    if reference:
      header += [curve.reference_label, "gap, %", "seeds below"]
    gaps = []
    for row, epoch in zip(rows, epochs, strict=True):
      values = [values[epoch] for values in seeds.values() if epoch in values]
      summary = stats.summarize(values)
      row.append(_cell(summary, decimals, len(seeds)))
      if not reference:
        continue
      if epoch not in reference or not summary.n:
        row += ["-", "-", "-"]
        continue
      target = reference[epoch]
      gap = 100 * (summary.mean - target) / abs(target)
      gaps.append((abs(gap), gap, epoch, sum(v < target for v in values), len(values)))
      row += [f"{target:.{decimals}f}", f"{gap:+.2f}", f"{gaps[-1][3]} of {len(values)}"]
    if gaps:
      _, gap, epoch, _, _ = max(gaps)
      inside = sum(0 < below < n for *_, below, n in gaps)
      notes.append(
        f"{name}: the largest relative gap to the {curve.reference_label} is {gap:+.2f}% (epoch {epoch}); at "
        f"{inside} of {len(gaps)} referenced epochs the reference lies between the seeds' lowest and highest values."
      )
  for name, seeds in series.items() if curve.seed_epochs else ():
    header_seeds = ["seed", *(f"epoch {epoch}" for epoch in curve.seed_epochs)]
    rows_seeds = [
      [seed, *(f"{values[epoch]:.{decimals}f}" if epoch in values else "-" for epoch in curve.seed_epochs)]
      for seed, values in sorted(seeds.items())
    ]
    notes += [f"{name}, each seed:", _table(header_seeds, rows_seeds)]
  offset = f" The runs' values are shown less {curve.offset:g} (see the study's description)." if curve.offset else ""
  split = "the mean over the epoch's training steps" if curve.split == "train" else "the epoch-end validation record"
  return [
    f"{curve.label} (`{curve.metric}`, {split}), per epoch counted from 1 (where a reference or seed values "
    "are given: those epochs, the first and the last); mean ± sd over the group's seeds; the gap "
    f'is (mean - reference) / |reference|; "seeds below": how many seeds\' values are below the reference.{offset} '
    f"Figure: [curve_{curve.slug}.png](curve_{curve.slug}.png).",
    _table(header, rows),
    *notes,
  ]


def _default_table(results: list[Result]) -> spec.Table:
  present = {key for r in results if r.metrics for key in r.metrics}
  return spec.Table(metrics=[key for _, key in HEADLINE if key in present])


def format_readme(
  study: Study,
  results: list[Result],
  *,
  runs_root,
  command: str,
  curves: dict[str, dict] | None = None,
  figures: list[tuple[str, list[pathlib.Path], dict[str, str]]] | None = None,
) -> str:
  """The report's markdown: the study, its tables and comparisons, wall times, the missing runs."""
  finished = [r for r in results if r.metrics is not None]
  blocks = [f"# Study: {study.name}"]
  if study.description:
    blocks.append(study.description.strip())
  blocks.append(
    f"Made by `{command}` from the runs in `{spec.study_dir(study, runs_root)}`: {len(finished)} of {len(results)} "
    "runs finished. Each cell is the mean ± the sample standard deviation (ddof = 1) over the seeds of its group, "
    "n the number of seeds; a published value stands under its group where the study gives one."
  )
  blocks += [
    "## Runs",
    "What each group's finished runs ran, as they recorded it: the keys the group overrides and its training length "
    "from their config.json, the epoch evaluated and the importance sampling from their eval_test.json (checked "
    "against the study file when the report was made).",
    _runs_table(study, results),
  ]
  unrecorded = [r.run.name for r in results if r.recorded is not None and r.recorded.config is None]
  if unrecorded:
    blocks.append(
      f"**Not checked against the study file**: {', '.join(unrecorded)} {'has' if len(unrecorded) == 1 else 'have'} "
      "an eval_test.json but no config.json (`dvae train` writes one): what they ran is not recorded."
    )
  missing = [r.run.name for r in results if r.metrics is None]
  if missing:
    blocks.append(f"Not finished (no eval_test.json; `dvae study run` trains them): {', '.join(missing)}.")
  for table in study.tables or [_default_table(results)]:
    blocks += [f"## {table.title}", _group_table(study, table, results)]
    if table.comparisons:
      blocks.append(
        "Paired differences A - B over the seeds both groups have (A's run with seed s minus B's run with seed s): "
        "mean, sample standard deviation and the 95% t interval mean ± t(0.975, n - 1) · sd / √n; "
        '"excludes 0": the interval lies on one side of 0, a difference seed noise is unlikely to explain.'
      )
      blocks.append(_comparison_table(table, results))
  for curve in study.curves:
    blocks += [f"## {curve.title}", *_curve_section(curve, (curves or {})[curve.slug])]
  for name, paths, skipped in figures or []:
    blocks.append(f"## Figures: {name}")
    blocks += [f"![{name}: {path.stem}]({path.parent.name}/{path.name})" for path in paths]
    blocks += [f"Not drawn: {figure}: {why}" for figure, why in skipped.items()]
  walls = [
    [name, stats.summarize(m for r in results if r.run.group == name and (m := r.train_minutes) is not None)]
    for name in spec.expand_groups(study)
  ]
  blocks += [
    "## Wall time",
    "Training minutes per run: the sum of the `epoch_seconds` of its metrics.jsonl epoch-end records (training, "
    "validation, checkpoints and compilation; of a resumed run, the epochs as resumed). Evaluation is not included.",
    _table(["group", "n", "training, min"], [[name, s.n, _cell(s, 1, s.n)] for name, s in walls]),
  ]
  return "\n\n".join(blocks) + "\n"


def format_csv(results: list[Result]) -> str:
  """One row per finished run: group, seed, every number of its eval_test.json, training minutes, workdir."""
  keys = sorted({key for r in results if r.metrics for key in r.metrics})
  buffer = io.StringIO()
  writer = csv.writer(buffer, lineterminator="\n")
  writer.writerow(["group", "seed", *keys, WALL_COLUMN, "workdir"])
  for r in results:
    if r.metrics is not None:
      minutes = "" if r.train_minutes is None else repr(r.train_minutes)
      writer.writerow(
        [r.run.group, r.run.seed, *(repr(r.metrics[k]) if k in r.metrics else "" for k in keys), minutes, r.run.workdir]
      )
  return buffer.getvalue()


def write_report(
  study: Study, runs_root: str | pathlib.Path = "runs", out: str | pathlib.Path | None = None, *, command: str
) -> list[pathlib.Path]:
  """Writes OUT/README.md and OUT/runs.csv (OUT default: RUNS/STUDY/report); returns their paths.

  Raises WorkdirError when no run of the study has finished, naming where they were looked for, and
  when a finished run recorded other settings than the study asks for now, naming it and how to redo it.
  """
  results = collect(study, runs_root)
  if not any(r.metrics is not None for r in results):
    raise WorkdirError(
      f"no finished run of study {study.name} in {spec.study_dir(study, runs_root)} (no */seed*/eval_test.json); "
      f"train them first: dvae study run FILE --runs {runs_root}"
    )
  check_records(study, results)
  out = pathlib.Path(out) if out is not None else spec.study_dir(study, runs_root) / "report"
  out.mkdir(parents=True, exist_ok=True)
  readme, table = out / "README.md", out / "runs.csv"
  curves = {curve.slug: curve_series(study, curve, results) for curve in study.curves}
  written = []
  if curves:
    from dvae_jax import plots  # matplotlib: only for a study that draws

    for curve in study.curves:
      written.append(
        plots.plot_epoch_curves(
          curves[curve.slug],
          out / f"curve_{curve.slug}.png",
          ylabel=curve.label,
          title=curve.title,
          reference={name: dict(points) for name, points in curve.reference.items()},
          reference_label=curve.reference_label,
        )
      )
  figures = run_figures(study, results, out)
  written += [path for _, paths, _ in figures for path in paths]
  readme.write_text(format_readme(study, results, runs_root=runs_root, command=command, curves=curves, figures=figures))
  table.write_text(format_csv(results))
  return [readme, table, *written]


def run_figures(
  study: Study, results: list[Result], out: pathlib.Path
) -> list[tuple[str, list[pathlib.Path], dict[str, str]]]:
  """The study's figures of single runs (spec.RunFigures) drawn into OUT/figures_<group>_seed<N>/ from each
  finished run: (its name, the files, {figure: why not drawn}); a run not finished is left out."""
  drawn = []
  for request in study.figures:
    seed = study.figure_seed(request)
    result = next(r for r in results if r.run.group == request.group and r.run.seed == seed)
    if result.metrics is None:
      continue
    from dvae_jax import figures  # jax and matplotlib: only for a study that draws runs

    folder = out / f"figures_{request.group}_seed{seed}"
    paths, skipped = figures.make_run_figures(result.run.workdir, folder, which=request.which)
    drawn.append((result.run.name, paths, skipped))
  return drawn
