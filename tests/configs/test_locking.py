"""Configs are locked against misspelt keys from Python as on the command line (configs/locking.py):
every path that hands out a config (load_experiment, load_config) locks it, a misspelt key is an
error naming the key, its section and the nearest valid keys, and `validate` catches the same keys
in a config that was built unlocked."""

import copy as copy_module
import json
import pathlib
import re

import ml_collections
import pytest

import dvae_jax
from dvae_jax import configs
from dvae_jax.configs.locking import StrictConfigDict, UnknownKeyError
from dvae_jax.train import train_and_evaluate
from tests.helpers import REPO

# (section, misspelt key, the valid key it should suggest): one per section, and the top level.
MISSPELT = [
  ("optim", "learning_rat", "learning_rate"),
  ("train", "num_epoch", "num_epochs"),
  ("data", "train_limt", "train_limit"),
  ("eval", "iw_sample", "iw_samples"),
  ("model", "latent_dims", "latent_dim"),
  ("model.network", "conv_chanels", "conv_channels"),
  ("", "sed", "seed"),
]


def _section(config: ml_collections.ConfigDict, dotted: str) -> ml_collections.ConfigDict:
  for name in filter(None, dotted.split(".")):
    config = config[name]
  return config


def _named(section: str, key: str, nearest: str) -> str:
  """The start of the error for `key` in `section`: the section, the key and the nearest valid key."""
  where = f"config.{section}" if section else "config"
  return rf"^{re.escape(where)} has no key '{key}' \(did you mean '{nearest}'[,? ]"


@pytest.mark.parametrize("section,key,nearest", MISSPELT, ids=[s or "top" for s, _, _ in MISSPELT])
def test_a_misspelt_key_of_a_loaded_config_is_an_error(section, key, nearest):
  config = configs.load_experiment("mnist_vae:smoke")
  before = config.to_dict()
  target = _section(config, section)
  for assign in (
    lambda: setattr(target, key, 3),
    lambda: target.__setitem__(key, 3),
    lambda: target.update({key: 3}),
    lambda: config.update_from_flattened_dict({f"{section}.{key}".lstrip("."): 3}),
  ):
    with pytest.raises(UnknownKeyError, match=_named(section, key, nearest)) as e:
      assign()
    assert "expected one of its keys: " in str(e.value) and "the key was not added" in str(e.value)
  assert config.to_dict() == before


def test_the_error_is_a_config_error_and_what_ml_collections_raises():
  """Code that catches a locked ConfigDict's KeyError / AttributeError, or a ConfigError, still does."""
  config = configs.load_experiment("mnist_vae")
  for error in (configs.ConfigError, KeyError, AttributeError):
    with pytest.raises(error):
      config.optim.learning_rat = 3
  with pytest.raises(UnknownKeyError) as e:
    config.optim["learning_rat"] = 3
  assert str(e.value).startswith("config.optim has no key")  # not KeyError's quoted repr


def test_a_key_far_from_every_valid_one_lists_them_all():
  config = configs.load_experiment("mnist_vae")
  with pytest.raises(UnknownKeyError, match=r"^config.train has no key 'zzz'; expected one of its keys: batch_size, "):
    config.train.zzz = 1


def test_every_experiment_and_its_every_section_is_locked():
  for path in sorted((REPO / "experiments").glob("*.py")):
    config = configs.load_experiment(str(path))
    sections = [config, *(value for _, value in _walk(config))]
    assert all(isinstance(s, StrictConfigDict) and s.is_locked for s in sections), path


def _walk(config: ml_collections.ConfigDict, prefix: str = "config"):
  for key, value in config.items():
    if isinstance(value, ml_collections.ConfigDict):
      yield f"{prefix}.{key}", value
      yield from _walk(value, f"{prefix}.{key}")


def test_existing_keys_stay_settable_and_a_swapped_section_is_locked():
  config = configs.load_experiment("mnist_vae:smoke")
  config.optim.learning_rate = 3e-4
  config.data.train_limit = 64  # a placeholder (None by default)
  config.model.network = configs.network_section("mlp")
  config.model.prior = {"name": "mixture", "components": 10}
  assert config.optim.learning_rate == 3e-4 and config.data.train_limit == 64
  with pytest.raises(UnknownKeyError, match=_named("model.network", "fc_size", "fc_sizes")):
    config.model.network.fc_size = (8,)
  # A key of another registry choice: the error says how to switch the choice.
  with pytest.raises(UnknownKeyError, match=r"config.model.prior = \{'name': \.\.\., 'temperature': \.\.\.\}"):
    config.model.prior.temperature = 1.0
  with config.unlocked():  # adding a key on purpose
    config.model.prior.temperature = 1.0
  assert config.is_locked and config.model.prior.is_locked


def test_copies_stay_locked_and_named():
  config = configs.load_experiment("mnist_vae:smoke")
  for copy in (config.copy_and_resolve_references(), copy_module.deepcopy(config)):
    assert copy.to_dict() == config.to_dict() and copy.is_locked
    with pytest.raises(UnknownKeyError, match=_named("model.network", "conv_chanels", "conv_channels")):
      copy.model.network.conv_chanels = (8,)


def test_a_config_read_back_from_its_workdir_is_locked(tmp_path):
  config = configs.load_experiment("mnist_vae_gan:smoke")  # a registry choice (discriminator) beside the network
  configs.write_config(config, tmp_path)
  loaded = configs.load_config(tmp_path)
  assert loaded.to_dict() == config.to_dict() and loaded.is_locked
  with pytest.raises(UnknownKeyError, match=_named("train", "num_epoch", "num_epochs")):
    loaded.train.num_epoch = 3


@pytest.mark.parametrize("section,key,nearest", MISSPELT, ids=[s or "top" for s, _, _ in MISSPELT])
def test_a_config_json_with_a_misspelt_key_is_refused(tmp_path, section, key, nearest):
  """What an unlocked config (before the lock) wrote: the key it ignored, refused, with the file named."""
  saved = configs.load_experiment("mnist_vae:smoke").to_dict()
  _section_of_dict(saved, section)[key] = 3
  (tmp_path / "config.json").write_text(json.dumps(saved))
  where = f"config.{section}" if section else "config"
  with pytest.raises(
    configs.ConfigError, match=rf"config.json does not fit .*: {where} has no key '{key}' .*{nearest}"
  ):
    configs.load_config(tmp_path)


def _section_of_dict(config: dict, dotted: str) -> dict:
  for name in filter(None, dotted.split(".")):
    config = config[name]
  return config


# Sections that the defaults check (the model's keys are its dataclasses' to check).
UNLOCKED = [m for m in MISSPELT if not m[0].startswith("model")]


@pytest.mark.parametrize("section,key,nearest", UNLOCKED, ids=[s or "top" for s, _, _ in UNLOCKED])
def test_validate_refuses_a_misspelt_key_of_an_unlocked_config(section, key, nearest):
  """A ConfigDict built by hand is not locked: `validate` (and so every run) finds the key anyway."""
  config = ml_collections.ConfigDict(configs.base_config().to_dict())
  _section(config, section)[key] = 3
  with pytest.raises(UnknownKeyError, match=_named(section, key, nearest)) as e:
    configs.validate(config)
  assert "this one was not, and training would ignore the key. Nothing was run." in str(e.value)


def test_an_unlocked_config_with_a_misspelt_model_key_is_refused_by_its_dataclass():
  config = ml_collections.ConfigDict(configs.base_config().to_dict())
  config.model.latent_dims = 3
  with pytest.raises(configs.ConfigError, match=r"config.model has a key \['latent_dims'\] that VAEConfig does not"):
    configs.validate(config)


def test_train_and_evaluate_refuses_a_misspelt_key_before_any_work(tmp_path):
  config = ml_collections.ConfigDict(configs.load_experiment("mnist_vae:smoke").to_dict())
  config.optim.learning_rat = 3
  workdir = tmp_path / "run"
  with pytest.raises(UnknownKeyError, match=_named("optim", "learning_rat", "learning_rate")):
    train_and_evaluate(config, workdir)
  assert not workdir.exists()


def test_load_experiment_locks_a_config_file_of_ones_own(tmp_path):
  path = pathlib.Path(tmp_path) / "mine.py"
  config_dict = "ml_collections.ConfigDict({'seed': 0, 'train': {'steps': 1}})"
  path.write_text(f"import ml_collections\n\n\ndef get_config():\n  return {config_dict}\n")
  config = configs.load_experiment(str(path))
  assert config.is_locked and config.train.steps == 1
  with pytest.raises(UnknownKeyError, match=_named("train", "step", "steps")):
    config.train.step = 2


@pytest.mark.parametrize(
  "section,key,nearest",
  [
    ("optim", "learning_rat", "learning_rate"),
    ("train", "num_epoch", "num_epochs"),
    ("data", "train_limt", "train_limit"),
  ],
)
def test_a_misspelt_key_of_a_loaded_experiment_is_refused(section, key, nearest):
  """The bug report: these trained at the defaults without a word, and config.json recorded them."""
  config = dvae_jax.load_experiment("mnist_vae:smoke")
  with pytest.raises(
    dvae_jax.configs.ConfigError, match=rf"^config\.{section} has no key '{key}' \(did you mean '{nearest}'"
  ):
    setattr(config[section], key, 3)
