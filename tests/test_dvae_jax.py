"""dvae_jax/__init__.py: the package exports its entry points, and nothing under a misspelt name."""

import pytest

import dvae_jax


def test_the_package_exports_its_entry_points():
  assert dvae_jax.load_experiment("mnist_vae:smoke").train.num_epochs == 2
  assert callable(dvae_jax.train_and_evaluate) and callable(dvae_jax.restore_run)
  with pytest.raises(AttributeError, match="no attribute 'trian'"):
    dvae_jax.trian  # noqa: B018
