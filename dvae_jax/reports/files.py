"""A finished run's files as plain data, without jax, for the reports' tables: the eval_SPLIT.json that
`dvae evaluate` writes, the config.json and metrics.jsonl of `dvae train`, and the *_wall_seconds files the
reproduce scripts write. A missing or corrupt file is a WorkdirError naming it and what was expected."""

import json
import pathlib
import statistics

from dvae_jax.errors import WorkdirError


class Record(dict):
  """A JSON object read from `path`; a missing key is a WorkdirError naming the file."""

  def __init__(self, path: pathlib.Path, items: dict):
    super().__init__(items)
    self.path = path

  def __missing__(self, key):
    raise WorkdirError(f"{self.path}: no {key!r}; expected it in the file `dvae train` / `dvae evaluate` writes.")


class Cells(dict):
  """A run's values for a table's cells: a missing one (or None) formats as "-" (f"{cells['x']:.2f}")."""

  def __getitem__(self, key):
    value = self.get(key)
    return _DASH if value is None else value


_DASH = type("Dash", (), {"__format__": lambda self, spec: "-"})()


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


def load_run(
  workdir: pathlib.Path, *, optional: bool = False, config: bool = True, walls=(), epoch_seconds: bool = False
) -> dict | None:
  """A run's eval_test.json, plus "config" (its config.json; required if `config`), "train_minutes" and
  "eval_minutes" (from the scripts' *_wall_seconds files; None where absent, unless named in `walls`) and,
  with `epoch_seconds`, the median of metrics.jsonl's validation epoch_seconds (the first epoch also
  compiles). With `optional`: None if the run has no eval_test.json, else the run as Cells."""
  path = workdir / "eval_test.json"
  if optional and not path.exists():
    return None
  run = read_json(path, f"the test metrics of `dvae evaluate --workdir {workdir}`")
  if config or (workdir / "config.json").exists():
    run["config"] = read_json(workdir / "config.json", "the config.json `dvae train` writes")
  for name in ("train", "eval"):
    wall = workdir / f"{name}_wall_seconds"
    try:
      run[f"{name}_minutes"] = float(wall.read_text()) / 60 if name in walls or wall.exists() else None
    except (OSError, ValueError):
      raise WorkdirError(f"{wall}: missing or not a number; expected the seconds the script timed.") from None
  if epoch_seconds:
    path = workdir / "metrics.jsonl"
    try:
      records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (OSError, json.JSONDecodeError):
      raise WorkdirError(f"{path}: missing or not JSON lines; expected the metrics `dvae train` writes.") from None
    epochs = [r["epoch_seconds"] for r in records if r.get("split") == "valid" and "epoch_seconds" in r]
    run["epoch_seconds"] = statistics.median(epochs) if epochs else None
  return Cells(run) if optional else run
