"""A finished run's JSON files as plain data, without jax (the eval_SPLIT.json that `dvae evaluate`
writes, the config.json of `dvae train`): a missing or corrupt file, or a missing key, is a
WorkdirError naming it and what was expected."""

import json
import pathlib

from dvae_jax.errors import WorkdirError


class Record(dict):
  """A JSON object read from `path`; a missing key is a WorkdirError naming the file."""

  def __init__(self, path: pathlib.Path, items: dict):
    super().__init__(items)
    self.path = path

  def __missing__(self, key):
    raise WorkdirError(f"{self.path}: no {key!r}; expected it in the file `dvae train` / `dvae evaluate` writes.")


def read_json(path: pathlib.Path, expected: str = "the metrics `dvae evaluate` writes") -> dict:
  """The JSON object in `path` as a Record (so are the objects inside it)."""
  try:
    value = json.loads(path.read_text(), object_hook=lambda items: Record(path, items))
  except OSError as e:
    raise WorkdirError(f"{path}: {e.strerror or 'unreadable'}; expected {expected}.") from None
  except json.JSONDecodeError as e:
    raise WorkdirError(f"{path}: not valid JSON ({e.msg}, line {e.lineno}); expected {expected}.") from None
  if not isinstance(value, dict):
    raise WorkdirError(f"{path}: a JSON {type(value).__name__}, not an object; expected {expected}.")
  return value
