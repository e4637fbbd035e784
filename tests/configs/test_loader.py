"""configs/loader.py: `load_experiment` by name, path and variant, and the errors that name the files tried and the
nearest experiments and variants."""

import pytest

from dvae_jax import configs


def test_load_experiment_by_name_path_and_variant():
  by_name = configs.load_experiment("mnist_vae:smoke")
  by_path = configs.load_experiment("experiments/mnist_vae.py", "smoke")
  assert by_name.to_dict() == by_path.to_dict()
  assert by_name.train.num_epochs == 2 and configs.load_experiment("mnist_vae").train.num_epochs == 250
  # An explicit variant wins over the one in the spec.
  assert configs.load_experiment("mnist_vae:smoke", "cpu").train.num_epochs == 2
  assert configs.load_experiment("mnist_vae:smoke", "cpu").data.train_limit == 27_000


def test_an_unknown_experiment_names_the_files_tried():
  with pytest.raises(configs.ConfigError, match=r"no experiment config 'mnist_vea': tried experiments/mnist_vea\.py, "):
    configs.load_experiment("mnist_vea")
  with pytest.raises(configs.ConfigError, match=r"tried /nowhere/x\.py\. Expected a path"):
    configs.load_experiment("/nowhere/x.py")


def test_an_unknown_experiment_names_the_nearest_ones():
  with pytest.raises(
    configs.ConfigError, match=r"\(mnist_vae\)\. Did you mean 'mnist_vae'[,? ].* Nothing was loaded\.$"
  ):
    configs.load_experiment("mnist_vea:smoke")
  with pytest.raises(configs.ConfigError, match=r"Did you mean 'mnist_dvae\.py'.* in experiments\? Nothing was loaded"):
    configs.load_experiment("experiments/mnist_dvea.py")
  # Nothing near: every experiment is listed.
  with pytest.raises(configs.ConfigError, match=r"The experiments: cifar10_classifier, .*, mnist_vae, .*\. Nothing"):
    configs.load_experiment("zzzz")


def test_a_misspelt_variant_names_the_nearest_ones():
  with pytest.raises(configs.ConfigError, match=r"unknown config variant 'smok' \(did you mean 'smoke'\?\); valid"):
    configs.load_experiment("mnist_vae:smok")
  with pytest.raises(configs.ConfigError, match=r"variant 'fashon' \(did you mean 'fashion'\?\) in 'l2,fashon'; expe"):
    configs.load_experiment("mnist_dense_vae:l2,fashon")
  with pytest.raises(configs.ConfigError, match=r"'smok' \(did you mean 'smoke'\?\) in 'l2,smok'; expected names"):
    configs.load_experiment("mnist_dense_vae:l2,smok")
