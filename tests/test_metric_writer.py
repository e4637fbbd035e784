"""metric_writer.py: the per-epoch series of a run's metrics.jsonl records."""

import pytest

from tests.helpers import write_metrics_run


def test_epoch_series_weights_each_logged_window_by_its_steps(tmp_path):
  """Epoch 1: windows of 3 and 2 steps (means 2.0 and 4.0) -> 2.8; epoch 2: 1.0 and 3.0 -> 1.8; the
  unfinished epoch 3 is left out. Validation records give their own values."""
  from dvae_jax.metric_writer import epoch_series

  write_metrics_run(
    tmp_path / "run",
    [
      {"step": 3, "split": "train", "m": 2.0},
      {"step": 5, "split": "train", "m": 4.0},
      {"step": 5, "split": "valid", "epoch": 1.0, "m": 7.0},
      {"step": 8, "split": "train", "m": 1.0},
      {"step": 10, "split": "train", "m": 3.0},
      {"step": 10, "split": "valid", "epoch": 2.0, "m": 6.0},
      {"step": 12, "split": "train", "m": 9.0},
    ],
  )
  assert epoch_series(tmp_path / "run", "m") == pytest.approx({1: 2.8, 2: 1.8})
  assert epoch_series(tmp_path / "run", "m", "valid") == {1: 7.0, 2: 6.0}
