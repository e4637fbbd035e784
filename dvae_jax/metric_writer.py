"""Metrics as JSON lines (one record per write) and TensorBoard event files (tensorboardX)."""

import json
import math
import pathlib

from tensorboardX import SummaryWriter


class MetricWriter:
  """Writes `{step, split, **scalars}` records to `metrics.jsonl` and to TensorBoard under `tb/`.

  On resume from step `resume_step`, records after it are dropped from the JSONL file (they will be
  written again, identically) and TensorBoard is told to purge events after it.
  """

  def __init__(self, workdir: pathlib.Path, *, resume_step: int = 0, active: bool = True):
    self.path = workdir / "metrics.jsonl"
    self._tb = None
    if not active:  # another process of a multi-host run writes the metrics
      return
    if resume_step and self.path.exists():
      kept = [line for line in self.path.read_text().splitlines() if json.loads(line)["step"] <= resume_step]
      self.path.write_text("".join(line + "\n" for line in kept))
    elif not resume_step:
      self.path.unlink(missing_ok=True)
    self._tb = SummaryWriter(str(workdir / "tb"), purge_step=resume_step + 1 if resume_step else None)

  def write(self, step: int, split: str, scalars: dict[str, float]) -> None:
    if self._tb is None:
      return
    record = {"step": step, "split": split, **{k: _json_float(v) for k, v in sorted(scalars.items())}}
    with self.path.open("a") as f:
      f.write(json.dumps(record) + "\n")
    for name, value in scalars.items():
      self._tb.add_scalar(f"{split}/{name}", value, step)
    self._tb.flush()

  def close(self) -> None:
    if self._tb is not None:
      self._tb.close()


def _json_float(value: float) -> float | str:
  value = float(value)
  return value if math.isfinite(value) else str(value)


def read_metrics(workdir: str | pathlib.Path) -> list[dict]:
  path = pathlib.Path(workdir) / "metrics.jsonl"
  return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
