"""What a study file declares: named run groups (an experiment, overrides, seeds, a grid), how the runs
are evaluated, and the tables to make. Plain frozen dataclasses, checked when built; no jax here.

A group with a `grid` stands for one group per combination of its values, named
`<group>-<key>=<value>[-...]` (`expand_groups`); `runs` lists every (group, seed) with its workdir.
"""

import dataclasses
import itertools
import pathlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from dvae_jax.errors import ConfigError

# Group names become directory names and command-line words.
_NAME = re.compile(r"[A-Za-z0-9_.=,+-]+")
CURVE_SPLITS = ("train", "valid")


# The evaluation a study may set, as `eval.*` overrides like any other key. `dvae train` records them in the
# run's config.json (the defaults of a later `dvae evaluate`), and `dvae evaluate` is given each as its flag, so
# that a run whose config.json predates the override is evaluated as asked too; eval_test.json records what it did.
EVALUATION_FLAGS = {
  "eval.iw_samples": "iw_samples",  # importance samples for the NLL (0 skips it)
  "eval.iw_limit": "iw_limit",  # the NLL on the first N test images only
  "eval.recompute_batch_norm": "recompute_batch_norm",  # training batches to recompute batch norm on first
}


def is_evaluation_key(key: str) -> bool:
  """Whether an override key is the evaluation's (`eval.*`) rather than the training's."""
  return key.startswith("eval.")


@dataclasses.dataclass(frozen=True)
class Budget:
  """A study variant's budget, for study files with several: the config overrides every run gets
  (its training length, its `eval.*` evaluation) and the budget in words (for the report's description)."""

  overrides: Mapping[str, Any]
  description: str


@dataclasses.dataclass(frozen=True)
class Group:
  """One arm of a study: an experiment with config overrides, run once per seed.

  Attributes:
    experiment: an experiment file or name with its variant ("mnist_vae:cpu", "experiments/mnist_vae.py").
    overrides: dotted config keys -> values, over the study's own `overrides`: e.g. {"train.num_epochs": 5}
      (`dvae train --config.KEY=VALUE`), or an evaluation key of EVALUATION_FLAGS, e.g. {"eval.iw_samples": 0}
      (the flag of `dvae evaluate`; eval_test.json records it).
    seeds: the values of config.seed, one run each (None: the study's seeds).
    grid: dotted keys -> lists of values; the group stands for one group per combination.
    published: metric -> a published value, shown beside the group's mean in the tables.
    classifier: a group of the study whose first seed's run scores the reconstructions
      (`dvae evaluate --classifier_workdir`), instead of the study's; its runs are trained and evaluated first.
    init_from: a group of the study whose run with the same seed each run of this group starts from
      (`--config.init_workdir`, e.g. VaDE from its pretraining); that run is trained and evaluated first.
  """

  experiment: str
  overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  seeds: Sequence[int] | None = None
  grid: Mapping[str, Sequence[Any]] = dataclasses.field(default_factory=dict)
  published: Mapping[str, float] = dataclasses.field(default_factory=dict)
  classifier: str | None = None
  init_from: str | None = None


@dataclasses.dataclass(frozen=True)
class Metric:
  """A column of a table: a key of eval_test.json and its label (None: reports.HEADLINE's, else the key)."""

  key: str
  label: str | None = None


@dataclasses.dataclass(frozen=True)
class Table:
  """A table of the report: per group mean ± sd over seeds of each metric, then the paired comparisons.

  Attributes:
    metrics: keys of eval_test.json (or Metric(key, label)), one column each.
    comparisons: "A - B" of two groups: A's value minus B's, paired by seed.
    title: the table's heading.
    groups: its rows (a grid group's name stands for all its combinations); None: every group.
    per_seed: also a row for each seed's run under its group's mean ± sd (e.g. to read one metric against
      another run by run).
  """

  metrics: Sequence[str | Metric]
  comparisons: Sequence[str] = ()
  title: str = "Results"
  groups: Sequence[str] | None = None
  per_seed: bool = False

  def columns(self) -> list[Metric]:
    return [metric if isinstance(metric, Metric) else Metric(metric) for metric in self.metrics]

  def pairs(self) -> list[tuple[str, str]]:
    """(A, B) of each comparison "A - B"."""
    pairs = []
    for comparison in self.comparisons:
      first, sep, second = comparison.partition(" - ")
      if not sep or not first.strip() or not second.strip():
        raise ConfigError(f"comparison {comparison!r}: expected 'A - B' with A and B names of the study's groups.")
      pairs.append((first.strip(), second.strip()))
    return pairs


@dataclasses.dataclass(frozen=True)
class Curve:
  """A per-epoch curve of the report: one metric of the runs of `groups`, epoch by epoch, as the mean ±
  sd over seeds (a table and a figure), beside a reference series where one is given (e.g. an
  original's own per-epoch training records).

  Attributes:
    metric: a key of the runs' metrics.jsonl records.
    groups: the curve's lines (a grid group's name stands for all its combinations).
    title: the section's heading; its figure is written as curve_<slug of the title>.png.
    label: the quantity in words (the axis label).
    split: "train", the epoch's mean over its training steps (each logged window weighted by its
      steps: what the training objective averaged over the epoch's batches is); or "valid", the
      epoch-end validation record.
    reference: group -> {epoch: value}, epochs counted from 1 (epoch 1 ends after the first pass).
    reference_label: what the reference is, for the table's column and the figure's legend.
    offset: subtracted from the runs' values before they are shown and compared (e.g. a likelihood's
      constant that the reference's loss does not carry); stated with the table.
    seed_epochs: epochs at which every seed's own value is listed too (a table of seed x epoch per
      group), where the spread over seeds matters more than its mean and sd.
  """

  metric: str
  groups: Sequence[str]
  title: str
  label: str
  split: str = "train"
  reference: Mapping[str, Mapping[int, float]] = dataclasses.field(default_factory=dict)
  reference_label: str = "reference"
  offset: float = 0.0
  seed_epochs: Sequence[int] = ()

  @property
  def slug(self) -> str:
    return re.sub(r"[^a-z0-9]+", "_", self.title.lower()).strip("_")


@dataclasses.dataclass(frozen=True)
class RunFigures:
  """Figures of one finished run of a group, drawn into the report as `dvae figures` draws them.

  Attributes:
    group: the run's group.
    which: names of dvae_jax.figures.FIGURES, e.g. ("samples",): decoded draws from the prior (one row per
      component of a mixture prior).
    seed: the run's seed (None: the group's first).
  """

  group: str
  which: Sequence[str] = ("samples",)
  seed: int | None = None


@dataclasses.dataclass(frozen=True)
class Study:
  """A set of runs compared over seeds: what `dvae study run` trains and `dvae study report` tabulates.

  Attributes:
    name: the study's name: its runs live in RUNS/<name>/<group>/seed<N>.
    groups: group name -> Group.
    seeds: the seeds of every group that names none.
    overrides: dotted config keys -> values every group gets (a group's own overrides win), e.g. the
      evaluation {"eval.iw_samples": 0}.
    classifier: the group whose first seed's run scores every group's reconstructions (a group's own
      `classifier` replaces it); its runs are trained and evaluated first, without a classifier.
    tables: the report's tables (none: one table of every group with reports.HEADLINE's metrics that the runs have).
    curves: the report's per-epoch curves (after the tables).
    figures: figures of single runs, drawn into the report (after the curves).
    description: a paragraph for the report.
  """

  name: str
  groups: Mapping[str, Group]
  seeds: Sequence[int] = (0, 1, 2)
  overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  classifier: str | None = None
  tables: Sequence[Table] = ()
  curves: Sequence[Curve] = ()
  figures: Sequence[RunFigures] = ()
  description: str = ""

  def __post_init__(self):
    if not _NAME.fullmatch(self.name):
      raise ConfigError(f"study name {self.name!r}: expected letters, digits and _ . = , + - (it names a folder).")
    groups = expand_groups(self)
    if not groups:
      raise ConfigError(f"study {self.name}: no groups; expected groups={{name: Group(experiment, ...)}}.")
    for name, group in groups.items():
      if not _NAME.fullmatch(name):
        raise ConfigError(f"study {self.name}: group name {name!r}: expected letters, digits and _ . = , + - only.")
      seeds = list(self.seeds if group.seeds is None else group.seeds)
      if not seeds or len(set(seeds)) != len(seeds) or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise ConfigError(f"study {self.name}, group {name}: seeds {seeds}: expected distinct integers >= 0.")
      if "seed" in group.overrides:
        raise ConfigError(f"study {self.name}, group {name}: config.seed is set by the seeds, not an override.")
      if unset := [key for key, value in group.overrides.items() if value is None]:
        raise ConfigError(
          f"study {self.name}, group {name}: {', '.join(unset)} = None: a command-line override cannot unset a key; "
          "leave it out to keep the experiment's value."
        )
      if unknown := [key for key in group.overrides if is_evaluation_key(key) and key not in EVALUATION_FLAGS]:
        raise ConfigError(
          f"study {self.name}, group {name}: {', '.join(unknown)}: a study sets the evaluation through "
          f"{', '.join(EVALUATION_FLAGS)} (the flags of `dvae evaluate`); the other eval.* keys are the experiment's."
        )
      _check_init_from(self, name, group, groups)
      classifier = classifier_of(self, group)
      if classifier is not None and classifier not in groups:
        raise ConfigError(f"study {self.name}, group {name}: classifier {classifier!r} is not {_one_of(groups)}.")
      chained = classifier_of(self, groups[classifier]) if classifier not in (None, name) else None
      if chained not in (None, classifier):
        raise ConfigError(
          f"study {self.name}, group {name}: its classifier group {classifier!r} names a classifier of its own; a "
          "classifier's runs are evaluated without one (they go first)."
        )
    for table in self.tables:
      for first, second in table.pairs():
        for name in (first, second):
          if name not in groups:
            raise ConfigError(f"study {self.name}: comparison '{first} - {second}': {name!r} is not {_one_of(groups)}.")
      table_groups(self, table)
    slugs = [curve.slug for curve in self.curves]
    for curve in self.curves:
      if curve.split not in CURVE_SPLITS:
        raise ConfigError(
          f"study {self.name}, curve {curve.title!r}: split {curve.split!r}: expected one of {CURVE_SPLITS}."
        )
      if not curve.slug or slugs.count(curve.slug) > 1:
        raise ConfigError(
          f"study {self.name}, curve {curve.title!r}: expected a title that names it alone (its figure's file)."
        )
      rows = table_groups(self, Table(metrics=(), title=curve.title, groups=curve.groups))
      if unknown := [name for name in curve.reference if name not in rows]:
        raise ConfigError(
          f"study {self.name}, curve {curve.title!r}: reference for {unknown}, not among its groups {rows}."
        )
    for figures in self.figures:
      if figures.group not in groups:
        raise ConfigError(f"study {self.name}, figures: group {figures.group!r} is not {_one_of(groups)}.")
      if figures.seed is not None and figures.seed not in _seeds(self, groups[figures.group]):
        raise ConfigError(f"study {self.name}, figures of {figures.group}: the group has no seed {figures.seed}.")

  def figure_seed(self, figures: RunFigures) -> int:
    """The seed of the run `figures` draws."""
    return _seeds(self, expand_groups(self)[figures.group])[0] if figures.seed is None else figures.seed


def classifier_of(study: Study, group: Group) -> str | None:
  """The group whose run scores `group`'s reconstructions: its own classifier, else the study's."""
  return group.classifier if group.classifier is not None else study.classifier


def _check_init_from(study: "Study", name: str, group: Group, groups: Mapping[str, Group]) -> None:
  """A ConfigError unless `group.init_from` (if any) is another group with every seed of this one."""
  if group.init_from is None:
    return
  where = f"study {study.name}, group {name}: init_from {group.init_from!r}"
  if group.init_from not in groups or group.init_from == name:
    raise ConfigError(f"{where} is not {_one_of({g: v for g, v in groups.items() if g != name})}.")
  if "init_workdir" in group.overrides:
    raise ConfigError(f"{where}: config.init_workdir is set by init_from, not an override.")
  source = groups[group.init_from]
  missing = set(_seeds(study, group)) - set(_seeds(study, source))
  if missing:
    raise ConfigError(f"{where} has no run with seed {sorted(missing)}; expected every seed of {name}.")


def _seeds(study: "Study", group: Group) -> list[int]:
  return list(study.seeds if group.seeds is None else group.seeds)


def _one_of(groups: Mapping[str, Any]) -> str:
  return f"a group of the study ({', '.join(groups)})"


def expand_groups(study: Study) -> dict[str, Group]:
  """The study's groups with each grid expanded into one group per combination of its values, each with
  the study's overrides under its own."""
  expanded = {}
  for name, group in study.groups.items():
    group = dataclasses.replace(group, overrides={**study.overrides, **group.overrides})
    if not group.grid:
      expanded[name] = group
      continue
    keys = list(group.grid)
    leaves = [key.rpartition(".")[2] for key in keys]
    labels = leaves if len(set(leaves)) == len(leaves) else keys
    for values in itertools.product(*(group.grid[key] for key in keys)):
      suffix = "-".join(f"{label}={_text(value)}" for label, value in zip(labels, values, strict=True))
      overrides = {**group.overrides, **dict(zip(keys, values, strict=True))}
      expanded[f"{name}-{suffix}"] = dataclasses.replace(group, overrides=overrides, grid={})
  return expanded


def _text(value: Any) -> str:
  """A grid value as a name's part: (8, 16) -> 8x16."""
  return "x".join(map(str, value)) if isinstance(value, tuple | list) else str(value)


def table_groups(study: Study, table: Table) -> list[str]:
  """The groups (rows) of `table`, a grid group's name standing for all its combinations."""
  groups = expand_groups(study)
  if table.groups is None:
    return list(groups)
  rows = []
  for name in table.groups:
    found = [name] if name in groups else [g for g in groups if g.startswith(f"{name}-") and name in study.groups]
    if not found:
      raise ConfigError(f"study {study.name}, table {table.title!r}: {name!r} is not {_one_of(groups)}.")
    rows += found
  return rows


@dataclasses.dataclass(frozen=True)
class StudyRun:
  """One (group, seed) of a study: what to train and evaluate, and where."""

  group: str
  seed: int
  experiment: str
  overrides: Mapping[str, Any]  # the group's (and the study's), without the seed; eval.* ones are the evaluation's
  workdir: pathlib.Path
  classifier_workdir: pathlib.Path | None = None
  init_workdir: pathlib.Path | None = None  # the run it starts from (also its override init_workdir)

  @property
  def name(self) -> str:
    return f"{self.group} seed {self.seed}"

  @property
  def training_overrides(self) -> dict[str, Any]:
    """The overrides that decide what is trained: every one but the evaluation's."""
    return {key: value for key, value in self.overrides.items() if not is_evaluation_key(key)}

  @property
  def evaluation_arguments(self) -> list[str]:
    """The `dvae evaluate` flags of the run's eval.* overrides (its classifier's workdir is added apart)."""
    return [f"--{EVALUATION_FLAGS[key]}={value}" for key, value in self.overrides.items() if key in EVALUATION_FLAGS]

  @property
  def dependencies(self) -> list[pathlib.Path]:
    """The workdirs of the runs that must finish before this one starts: its classifier's, its init's."""
    return [path for path in (self.classifier_workdir, self.init_workdir) if path is not None]


def study_dir(study: Study, runs_root: str | pathlib.Path) -> pathlib.Path:
  return pathlib.Path(runs_root) / study.name


def runs(study: Study, runs_root: str | pathlib.Path) -> list[StudyRun]:
  """Every run of the study: the classifier groups' first, then seed by seed (each seed of every group
  before the next seed, so that a study stopped halfway already has complete pairs). A group with
  `init_from` has the override init_workdir of its run of the same seed."""
  groups = expand_groups(study)
  classifiers = {classifier_of(study, group) for group in groups.values()} - {None}
  found = []
  for name, group in groups.items():
    classifier = classifier_of(study, group) if classifier_of(study, group) != name else None
    first_seed = None
    if classifier is not None:
      classifier_group = groups[classifier]
      first_seed = list(study.seeds if classifier_group.seeds is None else classifier_group.seeds)[0]
    for position, seed in enumerate(study.seeds if group.seeds is None else group.seeds):
      workdir = study_dir(study, runs_root) / name / f"seed{seed}"
      classifier_workdir = (
        None if classifier is None else study_dir(study, runs_root) / classifier / f"seed{first_seed}"
      )
      overrides, init_workdir = dict(group.overrides), None
      if group.init_from is not None:
        init_workdir = study_dir(study, runs_root) / group.init_from / f"seed{seed}"
        overrides["init_workdir"] = str(init_workdir)
      run = StudyRun(name, seed, group.experiment, overrides, workdir, classifier_workdir, init_workdir)
      found.append((name not in classifiers, position, run))
  return [run for *_, run in sorted(found, key=lambda item: item[:2])]


def parse_variant(variant: str | None, declared: Mapping[str, Any]) -> Any:
  """A study's variant, in the one grammar of experiments and studies (`configs.parse_variant`) without the
  generic variants: each setting of `declared` (the study file's VARIANTS table) with the value it names.

  For example, with VARIANTS = {"setting": (None, "cpu3")}, "cpu3" gives setting "cpu3" and None gives None;
  any other name is a ConfigError listing the valid ones.
  """
  from dvae_jax.configs.variants import parse_variant as parse  # lazily: importing the package stays light

  return parse(variant, declared, generic=(), kind="study")
