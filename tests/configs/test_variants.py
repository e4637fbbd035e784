"""The one variant grammar (configs/variants.py): typed settings from a VARIANTS table, the generic "smoke"
and "cpu", errors that list the valid names, and the same grammar in experiment and study files."""

import pathlib
import re

import pytest

from dvae_jax import configs
from dvae_jax.configs import parse_variant
from dvae_jax.study import load_study
from tests.helpers import REPO

TABLE = {"pixel_loss": ("bce", "l2"), "fashion": False, "latent_dim": {"z100": 100, "z2": 2}}


def test_defaults_flags_choices_and_values():
  arg = parse_variant(None, TABLE)
  assert (arg.pixel_loss, arg.fashion, arg.latent_dim, arg.generic) == ("bce", False, 100, None)
  arg = parse_variant("z2,fashion,l2,cpu", TABLE)
  assert (arg.pixel_loss, arg.fashion, arg.latent_dim, arg.generic) == ("l2", True, 2, "cpu")
  # Any order; a name given twice counts once; empty parts are nothing.
  assert parse_variant("cpu,l2,l2,", TABLE) == parse_variant("l2,cpu", TABLE)
  assert parse_variant("", TABLE) == parse_variant(None, TABLE)


def test_none_first_is_a_default_that_names_nothing_and_studies_have_no_generic_variants():
  arg = parse_variant(None, {"setting": (None, "cpu3")}, generic=())
  assert dict(arg) == {"setting": None}
  assert parse_variant("cpu3", {"setting": (None, "cpu3")}, generic=()).setting == "cpu3"
  with pytest.raises(configs.ConfigError, match=r"unknown study variant 'smoke'; valid variants: \['cpu3'\]"):
    parse_variant("smoke", {"setting": (None, "cpu3")}, generic=(), kind="study")


def test_an_unknown_name_lists_the_valid_ones_with_the_nearest():
  with pytest.raises(configs.ConfigError) as error:
    parse_variant("l2,fashon", TABLE)
  assert str(error.value) == (
    "unknown config variant 'fashon' (did you mean 'fashion'?) in 'l2,fashon'; expected names from ['bce', 'l2', "
    "'fashion', 'z100', 'z2'] and at most one of ['smoke', 'cpu'], comma-separated, at most one of ['bce', 'l2'], "
    "at most one of ['z100', 'z2']. Nothing was loaded."
  )
  # With the generic variants only: the valid names.
  with pytest.raises(configs.ConfigError, match=r"^unknown config variant 'smok' \(did you mean 'smoke'\?\); valid "):
    parse_variant("smok")


@pytest.mark.parametrize("variant", ["bce,l2", "z2,z100,smoke", "smoke,cpu"])
def test_two_choices_of_one_setting_are_refused(variant):
  with pytest.raises(configs.ConfigError, match=rf"config variant '{variant}': '\w+' and '\w+' both choose"):
    parse_variant(variant, TABLE)


@pytest.mark.parametrize(
  "table,message",
  [
    ({"light": True}, "expected False"),
    ({"data": ()}, "expected False"),
    ({"data": ("a", None)}, "None, if at all, first"),
    ({"a": ("x", "y"), "b": ("y", "z")}, r"variant names \['y'\] name choices of two settings"),
    ({"run": ("smoke",)}, r"variant names \['smoke'\]"),
    ({"generic": ("x",)}, "is the generic variants'"),
  ],
)
def test_a_malformed_table_is_refused(table, message):
  with pytest.raises(configs.ConfigError, match=message):
    parse_variant(None, table)


def test_apply_variant_takes_a_string_or_what_parse_variant_returned():
  parsed = configs.apply_variant(configs.base_config(), parse_variant("fashion,smoke", TABLE))
  assert parsed.to_dict() == configs.apply_variant(configs.base_config(), "smoke").to_dict()
  assert parsed.train.num_epochs == 2 and parsed.data.train_limit == 512
  assert configs.apply_variant(configs.base_config(), parse_variant("l2", TABLE)).to_dict() == (
    configs.base_config().to_dict()
  )


def _files(folder: str) -> list[pathlib.Path]:
  return sorted((REPO / folder).glob("*.py"))


@pytest.mark.parametrize("path", _files("experiments"), ids=lambda p: p.stem)
def test_experiments_declare_their_variants_in_one_table(path):
  """No hand parsing: an experiment with variants of its own declares them in VARIANTS and parses with the
  one parser; one without passes its variant to apply_variant."""
  text = path.read_text()
  assert not re.search(r"\.split\(|split_variants|check_variant|VARIANTS\s*=\s*\(", text), path
  assert ("VARIANTS = {" in text) == ("configs.parse_variant(variant, VARIANTS)" in text), path
  assert "configs.apply_variant(config, " in text, path


@pytest.mark.parametrize("path", _files("experiments/studies"), ids=lambda p: p.stem)
def test_studies_declare_their_variants_in_one_table(path):
  text = path.read_text()
  assert "VARIANTS = {" in text and "parse_variant(variant, VARIANTS)" in text, path
  assert not re.search(r"check_variant|\.split\(|variant ==|variant is None", text), path


@pytest.mark.parametrize(
  "spec,kind,near",
  [
    ("experiments/mnist_conv_dae.py:fats", "config", "fast"),
    ("experiments/mnist_mlp_vae.py:z1000", "config", "z100"),
    ("experiments/studies/smoke.py:quik", "study", "quick"),
    ("experiments/studies/mixture_prior.py:cpu4", "study", "cpu3"),
  ],
)
def test_experiments_and_studies_answer_a_misspelt_variant_alike(spec, kind, near):
  name = spec.rpartition(":")[2]
  load = load_study if kind == "study" else configs.load_experiment
  with pytest.raises(configs.ConfigError, match=rf"^unknown {kind} variant '{name}' \(did you mean '{near}'"):
    load(spec)


def test_experiments_and_studies_refuse_two_choices_of_one_setting_alike():
  with pytest.raises(configs.ConfigError, match=r"config variant 'z2,z10': 'z2' and 'z10' both choose 'latent_dim'"):
    configs.load_experiment("mnist_mlp_vae:z2,z10")
  with pytest.raises(configs.ConfigError, match=r"study variant 'cpu3,mnist': 'cpu3' and 'mnist' both choose"):
    load_study("dvae_table:cpu3,mnist")
