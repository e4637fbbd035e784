"""study/loader.py: a study by name or path with its variant, and the errors that name what was tried."""

import pytest

from dvae_jax.errors import ConfigError
from dvae_jax.study import load_study

QUICK = "smoke:quick"  # experiments/studies/smoke.py with one seed: runs vae seed 0, dvae seed 0


def test_an_unknown_study_or_variant_names_what_was_tried():
  with pytest.raises(ConfigError, match=r"no study 'smok': tried experiments/studies/smok.py"):
    load_study("smok")
  with pytest.raises(ConfigError, match=r"unknown study variant 'slow'; valid variants: \['quick'\]"):
    load_study("smoke:slow")


def test_the_example_study_and_its_variant_load():
  study, quick = load_study("smoke"), load_study(QUICK)
  assert (study.name, list(study.groups), tuple(study.seeds)) == ("smoke", ["vae", "dvae"], (0, 1))
  assert study.tables[0].pairs() == [("dvae", "vae")]
  assert (quick.name, tuple(quick.seeds)) == ("smoke_quick", (0,))
