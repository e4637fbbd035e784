"""dvae_jax/study/__init__.py: the package's names, and the one it no longer has."""

import pytest


def test_the_removed_evaluate_record_says_what_replaces_it():
  with pytest.raises(ImportError, match=r"overrides=\{'eval.iw_samples': 0\}, classifier='c'"):
    from dvae_jax.study import Evaluate  # noqa: F401
