"""Metrics as JSON lines (one record per write) and TensorBoard event files (tensorboardX)."""

import json
import logging
import math
import os
import pathlib

from tensorboardX import SummaryWriter

from dvae_jax.errors import WorkdirError

# Wall-clock fields of the records: they differ between runs of the same computation, so
# comparisons of runs (tests, `dvae check-repro`) leave them out.
WALL_CLOCK_METRICS = frozenset(
  {"images_per_second", "valid_seconds", "checkpoint_seconds", "compile_seconds", "epoch_seconds"}
)

# A record whose window of steps a preemption cut short carries this key (value 1.0); the resumed run
# writes the whole window again, so resuming drops it.
PARTIAL_WINDOW = "partial_window"


class MetricWriter:
  """Writes `{step, split, **scalars}` records to `metrics.jsonl` and to TensorBoard under `tb/`.

  On resume from step `resume_step`, records after it, and partial-window records, are dropped from
  the JSONL file (they will be written again, identically) and TensorBoard is told to purge events
  after it.
  """

  def __init__(self, workdir: pathlib.Path, *, resume_step: int = 0, active: bool = True):
    self.path = workdir / "metrics.jsonl"
    self._tb = None
    if not active:  # another process of a multi-host run writes the metrics
      return
    kept = []
    if resume_step and self.path.exists():
      kept = [r for r in _read_records(self.path) if _kept_on_resume(r, resume_step)]
      atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))
    elif not resume_step:
      self.path.unlink(missing_ok=True)
    # TensorBoard drops the earlier files' events from purge_step on. The resume step's own events
    # go too (a preempted run's partial window sits there), and those metrics.jsonl keeps are
    # written again, so that both hold the same records.
    self._tb = SummaryWriter(str(workdir / "tb"), purge_step=resume_step or None)
    for record in kept:
      if record["step"] == resume_step:
        self._add_scalars(
          record["step"], record["split"], {k: v for k, v in record.items() if k not in ("step", "split")}
        )
    self._tb.flush()

  def write(self, step: int, split: str, scalars: dict[str, float]) -> None:
    if self._tb is None:
      return
    record = {"step": step, "split": split, **{k: _json_float(v) for k, v in sorted(scalars.items())}}
    with self.path.open("a") as f:
      f.write(json.dumps(record) + "\n")
    self._add_scalars(step, split, scalars)
    self._tb.flush()

  def image(self, step: int, tag: str, path: pathlib.Path) -> None:
    """Logs the PNG at `path` (a figure the run wrote) to TensorBoard under `tag`."""
    if self._tb is not None:
      self._tb.add_image(tag, _read_png(path), step, dataformats="HWC")
      self._tb.flush()

  def _add_scalars(self, step: int, split: str, scalars: dict[str, float]) -> None:
    for name, value in scalars.items():
      self._tb.add_scalar(f"{split}/{name}", float(value), step)

  def close(self) -> None:
    if self._tb is not None:
      self._tb.close()


def write_evaluation(
  workdir: pathlib.Path, step: int, split: str, scalars: dict, images: dict[str, pathlib.Path]
) -> None:
  """`dvae evaluate`'s metrics and grids as TensorBoard events under workdir/tb/<split> (a run of its
  own, so that resuming training, which purges the training events after its step, keeps them)."""
  writer = SummaryWriter(str(workdir / "tb" / split))
  try:
    for name, value in scalars.items():
      if isinstance(value, int | float) and not isinstance(value, bool):
        writer.add_scalar(f"{split}/{name}", float(value), step)
    for tag, path in images.items():
      writer.add_image(f"{split}/{tag}", _read_png(path), step, dataformats="HWC")
  finally:
    writer.close()


def _read_png(path: pathlib.Path):
  import numpy as np
  from PIL import Image

  with Image.open(path) as image:
    return np.asarray(image.convert("RGB"))


def _kept_on_resume(record: dict, resume_step: int) -> bool:
  return record["step"] <= resume_step and PARTIAL_WINDOW not in record


def _read_records(path: pathlib.Path) -> list[dict]:
  """The file's records, less a last line that a kill in the middle of an append left unfinished;
  any other unreadable line is an error (the file is left as it is)."""
  lines = path.read_text(errors="replace").splitlines()
  records = []
  for number, line in enumerate(lines, 1):
    try:
      record = json.loads(line)
    except json.JSONDecodeError:
      record = None
    if isinstance(record, dict) and isinstance(record.get("step"), int) and "split" in record:
      records.append(record)
    elif number == len(lines):
      logging.warning("Dropping the unfinished last line of %s (the run was killed while writing it).", path)
    else:
      raise WorkdirError(
        f"{path}, line {number}, is not a metrics record ({line[:80]!r}); expected one JSON object with 'step' and "
        "'split' per line. Only the last line can be unfinished (a kill during a write); this file was damaged "
        "otherwise. It was left as it is: repair or remove that line, or use a new --workdir."
      )
  return records


def atomic_write_text(path: pathlib.Path, text: str) -> None:
  """Replaces `path`'s contents so that a kill at any instant leaves either the old or the new file.

  The text goes to a temporary file beside it, is fsynced, and is renamed over `path` (atomic on
  POSIX within a directory); the directory is then fsynced so that the rename itself is durable.
  """
  temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
  try:
    with temporary.open("w") as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())
    os.replace(temporary, path)
  finally:
    temporary.unlink(missing_ok=True)  # only left when something failed before the rename
  directory = os.open(path.parent, os.O_RDONLY)
  try:
    os.fsync(directory)
  finally:
    os.close(directory)


def _json_float(value: float) -> float | str:
  value = float(value)
  return value if math.isfinite(value) else str(value)


def read_metrics(workdir: str | pathlib.Path) -> list[dict]:
  """The records of a run's metrics.jsonl (none if it has none yet)."""
  path = pathlib.Path(workdir) / "metrics.jsonl"
  return _read_records(path) if path.exists() else []


def reproducible_records(workdir: str | pathlib.Path) -> list[dict]:
  """`read_metrics` without the wall-clock entries: what two runs of one computation must share."""
  return [{k: v for k, v in r.items() if k not in WALL_CLOCK_METRICS} for r in read_metrics(workdir)]


def epoch_series(workdir: str | pathlib.Path, metric: str, split: str = "train") -> dict[int, float]:
  """`metric` per epoch (counted from 1) of a run's metrics.jsonl: {epoch: value}, nan where not finite.

  split "valid": the epoch-end validation records. split "train": the mean over the epoch's training
  steps, each logged window weighted by its steps. Windows never straddle an epoch's end (the loop
  writes one at each), so this is the mean of the per-step values over the epoch: the epoch's mean
  training objective where `metric` is it. Epochs without the metric are left out.
  """
  records = read_metrics(workdir)
  if split == "valid":
    return {int(r["epoch"]): float(r[metric]) for r in records if r["split"] == "valid" and metric in r}
  ends = sorted((r["step"], int(r["epoch"])) for r in records if r["split"] in ("valid", "epoch") and "epoch" in r)
  sums: dict[int, float] = {}
  steps: dict[int, int] = {}
  previous = 0
  for record in sorted((r for r in records if r["split"] == "train"), key=lambda r: r["step"]):
    window, previous = record["step"] - previous, record["step"]
    epoch = next((epoch for end, epoch in ends if record["step"] <= end), None)
    if epoch is None or metric not in record:  # a window of an epoch not yet finished
      continue
    sums[epoch] = sums.get(epoch, 0.0) + window * float(record[metric])
    steps[epoch] = steps.get(epoch, 0) + window
  return {epoch: sums[epoch] / steps[epoch] for epoch in sorted(sums)}
