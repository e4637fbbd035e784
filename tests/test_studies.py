"""The study files of experiments/studies/ (the reproductions of scripts/*.sh as studies): every study and
each of its variants loads and validates, every group's experiment resolves and takes its overrides,
comparisons name groups of the study, and the "cpu3" budgets run three seeds. Nothing is built or
trained: configs only (seconds)."""

import functools
import io
import pathlib

import pytest

from dvae_jax import configs
from dvae_jax.study import load_study, report, runner
from dvae_jax.study.spec import classifier_of, expand_groups, table_groups
from tests.helpers import REPO

STUDIES_DIR = pathlib.Path(__file__).resolve().parents[1] / "experiments" / "studies"

# study file -> its variants (None: no variant); the study files of the reproduction scripts.
STUDIES = {
  "dvae_table": (None, "mnist", "cpu_2epochs", "cpu3"),
  "binarized_nll": (None, "cpu_2epochs", "cpu3"),
  "denoising_vae_nll": (None, "cpu_2epochs", "cpu3"),
  "mixture_prior": (None, "50epochs", "cpu3"),
  "autoencoders": (None, "cpu_short"),
  "learnable_loss": (None, "cpu_3epochs", "mnist_cpu5", "mnist_cpu20"),
  "learnable_loss_sweeps": (None, "light", "smoke"),
  "learnable_loss_records": (None, "smoke"),
  "ablation": (None, "dvae"),
  "vade": (None, "cpu", "smoke"),
}
# The comparison studies, whose "cpu3" variant trains each run in minutes on 2 CPU cores.
CPU3 = ("dvae_table", "binarized_nll", "denoising_vae_nll", "mixture_prior")
CASES = [(name, variant) for name, variants in STUDIES.items() for variant in variants]


def spec_of(name: str, variant: str | None) -> str:
  return str(STUDIES_DIR / f"{name}.py") + ("" if variant is None else f":{variant}")


@functools.cache
def study_of(name: str, variant: str | None):
  return load_study(spec_of(name, variant))


def case_id(case) -> str:
  name, variant = case
  return name if variant is None else f"{name}:{variant}"


def test_every_study_file_is_listed():
  found = {path.stem for path in STUDIES_DIR.glob("*.py")} - {"smoke"}
  assert found == set(STUDIES)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_study_loads_and_names_its_runs_apart(case):
  study = study_of(*case)
  name, variant = case
  assert study.name == (name if variant is None else f"{name}_{variant}")
  assert study.description.strip()
  if variant is not None:  # a variant is labelled by its budget (a full schedule names itself)
    assert "epoch" in study.description


def test_study_names_are_distinct():
  """Each variant's runs live in RUNS/<study name>: two variants sharing a name would mix their runs."""
  names = [study_of(*case).name for case in CASES]
  assert len(set(names)) == len(names)


@pytest.mark.parametrize("name", STUDIES)
def test_unknown_variant_is_refused_with_the_valid_ones(name):
  with pytest.raises(configs.ConfigError, match="unknown study variant") as error:
    load_study(spec_of(name, "no_such_variant"))
  for variant in STUDIES[name]:
    if variant is not None:
      assert repr(variant) in str(error.value)


@pytest.mark.parametrize("name", [*STUDIES, "smoke"])
def test_the_variants_table_declares_the_study_variants(name):
  """A study's variants are its VARIANTS table, read by the one parser (configs.parse_variant)."""
  from dvae_jax.configs.loader import import_file

  table = import_file(STUDIES_DIR / f"{name}.py", "test_study").VARIANTS
  declared = [n for setting, choices in table.items() for n in ([setting] if choices is False else choices) if n]
  expected = ("quick",) if name == "smoke" else [variant for variant in STUDIES[name] if variant is not None]
  assert sorted(declared) == sorted(expected)
  for variant in declared:
    assert study_of(name, variant).name == f"{name}_{variant}"


@pytest.mark.parametrize("name", STUDIES)
def test_docstring_gives_the_commands_of_every_variant(name):
  text = (STUDIES_DIR / f"{name}.py").read_text()
  for variant in STUDIES[name]:
    suffix = "" if variant is None else f":{variant}"
    assert f"dvae study run experiments/studies/{name}.py{suffix}" in text
    assert f"dvae study report experiments/studies/{name}.py{suffix} --out results/" in text


def _has_key(config, dotted: str) -> bool:
  section = config
  for part in dotted.split("."):
    if not hasattr(section, "keys") or part not in section:
      return False
    section = section[part]
  return True


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_groups_resolve_to_experiments_that_take_their_overrides(case):
  study = study_of(*case)
  for group_name, group in expand_groups(study).items():
    path = configs.resolve_experiment(configs.loader.split_spec(group.experiment)[0])
    assert path.is_file(), f"{group_name}: {group.experiment}"
    config = configs.load_experiment(group.experiment)
    missing = [key for key in group.overrides if not _has_key(config, key)]
    assert not missing, f"{study.name}/{group_name} ({group.experiment}): no config keys {missing}"
    # As `dvae train` applies them: to the locked config, type-checked, then the whole config validated.
    config.lock()
    for seed in study.seeds if group.seeds is None else group.seeds:
      config.update_from_flattened_dict({**group.overrides, "seed": seed})
    configs.validate(config)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_tables_name_groups_of_the_study(case):
  study = study_of(*case)
  groups = expand_groups(study)
  assert study.tables
  for table in study.tables:
    assert table.columns()
    table_groups(study, table)  # raises for a row that is not a group
    for first, second in table.pairs():
      assert first in groups and second in groups, f"{study.name}: {first} - {second}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_classifiers_are_groups_trained_once(case):
  """A run judged by a classifier names a group of the study; that group trains one judge (seed 0)."""
  study = study_of(*case)
  groups = expand_groups(study)
  for group in groups.values():
    classifier = classifier_of(study, group)
    if classifier is not None:
      assert classifier in groups
      assert tuple(groups[classifier].seeds) == (0,)
      assert configs.load_experiment(groups[classifier].experiment).model.family == "classifier"


@pytest.mark.parametrize("name", CPU3)
def test_cpu3_variants_run_three_seeds(name):
  study = study_of(name, "cpu3")
  assert tuple(study.seeds) == (0, 1, 2)
  judges = {classifier_of(study, group) for group in study.groups.values()}
  for group_name, group in expand_groups(study).items():
    if group_name not in judges:
      assert group.seeds is None or tuple(group.seeds) == (0, 1, 2), group_name
  assert "Shortened schedule" in study.description


def test_dvae_table_cpu3_is_the_scripts_quick_setting():
  """The removed single-seed script's --quick: epochs x0.008, 4,800 training images, 2,000 test images, NLL k = 100 on
  200, batch-norm momentum 0.9, batch norm recomputed on 50 batches; MNIST only."""
  study = study_of("dvae_table", "cpu3")
  assert set(study.groups) == {"mnist_classifier", "mnist_vae_s1", "mnist_dvae_s1", "mnist_vae_s5", "mnist_dvae_s5"}
  common = {"data.train_limit": 4800, "data.eval_limit": 2000, "model.network.bn_momentum": 0.9}
  common |= {"eval.iw_samples": 100, "eval.iw_limit": 200, "eval.recompute_batch_norm": 50}
  for name, group in study.groups.items():
    assert common.items() <= dict(group.overrides).items(), name
  assert study.groups["mnist_classifier"].overrides["train.num_epochs"] == 1
  assert study.groups["mnist_dvae_s5"].overrides["train.num_epochs"] == 2
  assert study.groups["mnist_dvae_s5"].overrides["model.samples"] == 5
  assert study.groups["mnist_vae_s1"].classifier == "mnist_classifier"
  assert study.tables[0].comparisons == ["mnist_dvae_s1 - mnist_vae_s1", "mnist_dvae_s5 - mnist_vae_s5"]


def test_dvae_table_full_schedule_is_the_references():
  study = study_of("dvae_table", None)
  for group in study.groups.values():
    assert {"eval.iw_samples": 5000, "eval.recompute_batch_norm": 0}.items() <= dict(group.overrides).items()
    assert "eval.iw_limit" not in group.overrides
  epochs = {name: group.overrides["train.num_epochs"] for name, group in study.groups.items()}
  assert epochs["mnist_classifier"] == 60 and epochs["mnist_vae_s1"] == 250
  assert epochs["cifar10_classifier"] == 250 and epochs["cifar10_dvae_s5"] == 500
  assert study.groups["mnist_vae_s1"].published["reference_loss"] == 74.248


def test_the_docs_copy_of_the_smoke_study_is_the_file():
  docs = (REPO / "docs" / "studies.md").read_text()
  copy = docs.split("`experiments/studies/smoke.py` is the smallest example")[1].split("```python\n")[1].split("```")[0]
  source = (REPO / "experiments" / "studies" / "smoke.py").read_text()
  assert copy.strip() == source[source.index("from dvae_jax import published") :].strip()


def test_the_learnable_loss_sweeps_smoke_study_trains_and_reports(
  study_environment, face_folder, tmp_path, monkeypatch
):
  """The face sweeps' smoke form, for real: every knob's run trains and evaluates on a generated folder at
  runs/faces (the study's relative path), and the report compares each with the baseline."""
  monkeypatch.chdir(tmp_path)
  (tmp_path / "runs").mkdir()
  (tmp_path / "runs" / "faces").symlink_to(face_folder)
  study = load_study(str(REPO / "experiments" / "studies" / "learnable_loss_sweeps.py") + ":smoke")
  out = io.StringIO()
  assert runner.run_study(study, tmp_path / "runs", out=out) == 0, out.getvalue()
  report.write_report(study, tmp_path / "runs", tmp_path / "results", command="dvae study report (test)")
  text = (tmp_path / "results" / "README.md").read_text()
  for comparison in ("disc_weight_50 - baseline", "solo_1 - baseline"):
    assert f"| {comparison} | PSNR, dB | 1 |" in text
