"""Configs locked against misspelt keys, from Python as on the command line.

`base_config` builds a `StrictConfigDict`: an ml_collections ConfigDict whose every section knows
its dotted name. Experiment files build on it unlocked; `load_experiment`, `load_config` and the
command line lock it, after which setting a key it does not have (`config.optim.learning_rat = 3`)
is an `UnknownKeyError` naming the key, its section and the nearest valid keys, instead of a new
key that training would silently ignore. A section assigned whole (a swapped network or prior)
becomes strict, and locked with its parent. To add keys on purpose: `with config.unlocked():`.

`check_known_keys` is the same check on a config built elsewhere (an unlocked ConfigDict of one's
own), against the defaults; `validate` runs it.
"""

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

import ml_collections

from dvae_jax.errors import ConfigError

ROOT = "config"


class UnknownKeyError(ConfigError, KeyError, AttributeError):
  """A key that a config section does not have; a KeyError / AttributeError as ml_collections raises for it."""

  def __str__(self) -> str:
    return ConfigError.__str__(self)  # not KeyError's, which would quote the message


def nearest(given: Any, valid: Iterable[Any]) -> str:
  """The `valid` names nearest to `given` (difflib) as "'a', 'b' or 'c'"; "" if none is near."""
  names = [repr(name) for name in difflib.get_close_matches(str(given), [str(v) for v in valid], n=3, cutoff=0.6)]
  return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}" if names else ""


def unknown_key_message(section: str, key: Any, valid: Iterable[Any]) -> str:
  """`section` has no `key`: the nearest of the `valid` keys, then all of them."""
  valid = sorted(str(name) for name in valid)
  near = nearest(key, valid)
  guess = f" (did you mean {near}?)" if near else ""
  return f"{section} has no key {key!r}{guess}; expected one of its keys: {', '.join(valid)}."


class StrictConfigDict(ml_collections.ConfigDict):
  """A ConfigDict that knows its dotted name (`config.optim`) and, when locked, refuses an unknown key
  with an `UnknownKeyError` naming the key, this section and the nearest valid keys."""

  def __init__(
    self, initial_dictionary: Mapping[str, Any] | None = None, type_safe: bool = True, *, name: str = ROOT
  ) -> None:
    object.__setattr__(self, "_name", name)  # before the fields, whose sections are named after it
    super().__init__(initial_dictionary, type_safe=type_safe)

  def __setattr__(self, attribute: str, value: Any) -> None:
    self._check_known(attribute)  # ConfigDict.__setattr__ would turn the error into a bare AttributeError
    super().__setattr__(attribute, value)

  def __setitem__(self, key: str, value: Any) -> None:
    self._check_known(key)
    if isinstance(value, dict | ml_collections.ConfigDict) and not isinstance(value, ml_collections.FrozenConfigDict):
      value = strict(value, f"{self._name}.{key}")
      if self.is_locked:
        value.lock()
    super().__setitem__(key, value)

  def __setstate__(self, state: dict[str, Any]) -> None:
    super().__setstate__(state)
    _rename(self, state.get("_name", ROOT))

  def copy_and_resolve_references(self, visit_map=None) -> "StrictConfigDict":
    copy = super().copy_and_resolve_references(visit_map)
    _rename(copy, self._name)
    return copy

  def _check_known(self, key: str) -> None:
    if not self.is_locked or key in self._fields:
      return
    message = unknown_key_message(self._name, key, self._fields)
    if "name" in self._fields and not nearest(key, self._fields):
      # A registry choice (network, prior, corruption, ...): another choice has other keys.
      message += (
        f" To switch {self._name} to another choice with its own keys, assign the whole section: "
        f"{self._name} = {{'name': ..., {key!r}: ...}}."
      )
    raise UnknownKeyError(
      f"{message} The config is locked, so that a misspelt key is an error rather than a new setting that nothing "
      "reads; the key was not added."
    )


def strict(section: Mapping[str, Any] | ml_collections.ConfigDict, name: str = ROOT) -> StrictConfigDict:
  """`section` as a StrictConfigDict named `name`, locked if it was: a StrictConfigDict is renamed in
  place, a dict or plain ConfigDict is copied (its leaves and placeholders shared)."""
  if isinstance(section, StrictConfigDict):
    _rename(section, name)
    return section
  if not isinstance(section, ml_collections.ConfigDict):
    section = ml_collections.ConfigDict(section)
  converted = StrictConfigDict(name=name, type_safe=section.is_type_safe)
  for key, value in section.items(preserve_field_references=True):  # placeholders stay placeholders
    converted[key] = value
  return converted.lock() if section.is_locked else converted


def _rename(section: StrictConfigDict, name: str) -> None:
  object.__setattr__(section, "_name", name)
  for key, value in section._fields.items():
    if isinstance(value, StrictConfigDict):
      _rename(value, f"{name}.{key}")


def unknown_key(config: Mapping[str, Any], defaults: ml_collections.ConfigDict, *, skip: Iterable[str] = ()) -> str:
  """The `unknown_key_message` of the first key of `config` (a ConfigDict or a dict) that `defaults`
  lacks, at any depth but the dotted sections in `skip`; "" if there is none."""
  return _unknown_key(config, defaults, ROOT, tuple(skip))


def _unknown_key(
  config: Mapping[str, Any], defaults: ml_collections.ConfigDict, name: str, skip: tuple[str, ...]
) -> str:
  for key in config.keys():
    if key not in defaults:
      return unknown_key_message(name, key, defaults.keys())
    value, default = config[key], defaults[key]
    section = f"{name}.{key}"
    if section not in skip and isinstance(value, Mapping | ml_collections.ConfigDict):
      if isinstance(default, ml_collections.ConfigDict):
        message = _unknown_key(value, default, section, skip)
        if message:
          return message
  return ""


def check_known_keys(config: ml_collections.ConfigDict, defaults: ml_collections.ConfigDict) -> None:
  """Raises UnknownKeyError for the first key of `config` that `defaults` lacks; the `model` section is
  left to its dataclasses, which know the keys of every family, network and registry choice."""
  message = unknown_key(config, defaults, skip=(f"{ROOT}.model",))
  if message:
    raise UnknownKeyError(
      f"{message} A config from load_experiment or the command line is locked against such a key; this one was "
      "not, and training would ignore the key. Nothing was run."
    )
