"""Typed, frozen hyperparameters, and the one way a config section becomes them.

Every model family, network and swappable piece (prior, corruption, ...) owns a frozen dataclass;
its config section holds exactly that dataclass's fields. A piece chosen by name is a field whose
metadata names its registry (`choice(REGISTRY)`): its config section carries a `name` key, and the
rest of the section are the fields of the chosen dataclass. `build` turns a config section into
the dataclass, so a key the chosen class does not read is an error that lists the keys it does.
Modules and losses see only these dataclasses, never a ConfigDict.
"""

import dataclasses
import types
import typing
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from dvae_jax.errors import ConfigError

T = TypeVar("T")


class FieldError(ValueError):
  """Raised by a dataclass's `__post_init__` check: `build` adds the config path and the value."""

  def __init__(self, field: str, expected: str):
    super().__init__(field, expected)
    self.field, self.expected = field, expected


class Registry(dict):
  """Named choices of one kind (networks, families, priors, ...), with an error listing them.

  An entry renamed in a later version keeps its old name as a deprecated alias (`rename`):
  `canonical` and `get_named` accept it, with a warning.
  """

  def __init__(self, kind: str):
    super().__init__()
    self.kind = kind
    self.renamed: dict[str, str] = {}  # old name -> current name
    self._warned: set[str] = set()

  def rename(self, old: str, new: str) -> None:
    if new not in self:
      raise ValueError(f"{self.kind} {new!r} is not registered")
    self.renamed[old] = new

  def canonical(self, name: str) -> str:
    """`name`, or the current name of a renamed entry (with a FutureWarning)."""
    if name in self.renamed:
      if name in self._warned:
        return self.renamed[name]
      self._warned.add(name)  # once per name and process: a config names a network in several places
      warnings.warn(
        f"{self.kind} {name!r} is now called {self.renamed[name]!r}; the old name will be removed.",
        FutureWarning,
        stacklevel=3,
      )
      return self.renamed[name]
    return name

  def get_named(self, name: str):
    name = self.canonical(name)
    if name not in self:
      raise ConfigError(f"unknown {self.kind} {name!r}; expected one of {sorted(self)}.")
    return self[name]

  def register(self, name: str, entry):
    if name in self:
      raise ValueError(f"{self.kind} {name!r} is registered twice")
    self[name] = entry
    return entry


def choice(registry: Registry, default_name: str | None = None, *, config_of: Callable[[Any], type] = lambda e: e):
  """A dataclass field whose value is one of `registry`'s dataclasses, chosen by its `name`.

  `config_of(entry)` maps a registry entry to its dataclass (entries may carry more than that).
  """
  metadata = {"registry": registry, "config_of": config_of}
  if default_name is None:
    return dataclasses.field(metadata=metadata)
  return dataclasses.field(default_factory=lambda: config_of(registry[default_name])(), metadata=metadata)


# --- checks for __post_init__ ---------------------------------------------------------------------


def check_choice(obj, field: str, allowed: Iterable[str]) -> None:
  if getattr(obj, field) not in allowed:
    raise FieldError(field, f"expected one of {sorted(allowed)}")


def check_positive(obj, *fields: str, allow_zero: bool = False) -> None:
  for field in fields:
    value = getattr(obj, field)
    if value is None or value < 0 or (value == 0 and not allow_zero):
      raise FieldError(field, f"expected a {'non-negative' if allow_zero else 'positive'} number")


def check_range(obj, field: str, low: float, high: float, *, low_open: bool = False, high_open: bool = True) -> None:
  value = getattr(obj, field)
  if (value <= low if low_open else value < low) or (value >= high if high_open else value > high):
    interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    raise FieldError(field, f"expected a value in {interval}")


def check_sizes(obj, field: str, *, allow_empty: bool = False) -> None:
  sizes = getattr(obj, field)
  if (not sizes and not allow_empty) or any(not isinstance(s, int) or s < 1 for s in sizes):
    raise FieldError(field, f"expected a {'' if allow_empty else 'non-empty '}tuple of positive integers")


# --- config section <-> dataclass -----------------------------------------------------------------


def _frozen(value: Any) -> Any:
  """Lists (from JSON or the command line) become tuples, so dataclasses stay hashable."""
  if isinstance(value, list | tuple):
    return tuple(_frozen(v) for v in value)
  return value


def _nested_type(annotation: Any) -> type | None:
  """The dataclass type of a field annotated `SomeConfig` (or `SomeConfig | None`), else None."""
  if dataclasses.is_dataclass(annotation):
    return annotation
  if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
    kinds = [a for a in typing.get_args(annotation) if dataclasses.is_dataclass(a)]
    return kinds[0] if len(kinds) == 1 else None
  return None


def build(cls: type[T], values: Mapping[str, Any], *, path: str, **context: Any) -> T:
  """Builds dataclass `cls` from a config section `values` (at `config.<path>`).

  `context` supplies fields that come from the data rather than the config (e.g. image_shape);
  they are passed on to nested dataclasses that declare them too.

  Raises:
    ConfigError: for a key `cls` does not read (listing the keys it does), an unknown name of a
      registry choice (listing the valid names), or a value its checks refuse.
  """
  fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
  hints = typing.get_type_hints(cls)
  settable = sorted(name for name in fields if name not in context)
  unknown = sorted(set(values) - set(settable))
  if unknown:
    raise ConfigError(
      f"config.{path} has {'keys' if len(unknown) > 1 else 'a key'} {unknown} that {cls.__name__} does not read; "
      f"its keys are {settable}."
    )
  kwargs = {name: value for name, value in context.items() if name in fields}
  for name, value in values.items():
    field, sub_path = fields[name], f"{path}.{name}"
    registry = field.metadata.get("registry")
    if registry is not None:
      if not isinstance(value, Mapping) or "name" not in value:
        raise ConfigError(f"config.{sub_path} must be a section with a 'name' key (one of {sorted(registry)}).")
      try:
        entry = registry.get_named(value["name"])
      except ConfigError as e:
        raise ConfigError(f"config.{sub_path}.name: {e}") from None
      value = {**value, "name": registry.canonical(value["name"])}
      kwargs[name] = build(field.metadata["config_of"](entry), value, path=sub_path, **context)
    elif (nested := _nested_type(hints[name])) is not None and isinstance(value, Mapping):
      kwargs[name] = build(nested, value, path=sub_path, **context)
    else:
      kwargs[name] = _frozen(value)
  try:
    return cls(**kwargs)
  except FieldError as e:
    raise ConfigError(f"config.{path}.{e.field}={kwargs.get(e.field)!r} is not valid; {e.expected}.") from None
  except TypeError as e:  # a required field without a value
    raise ConfigError(f"config.{path}: {e}") from None


def to_dict(obj: Any, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
  """The config section of a dataclass (nested dataclasses become nested sections)."""
  out = {}
  for field in dataclasses.fields(obj):
    if not field.init or field.name in exclude:
      continue
    value = getattr(obj, field.name)
    out[field.name] = to_dict(value, exclude=exclude) if dataclasses.is_dataclass(value) else value
  return out
