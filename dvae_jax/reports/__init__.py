"""What the `dvae` commands print of finished runs, tested on fixture files (tests/reports/test_headline.py):

  headline.py  what `dvae evaluate` and `dvae train` print: every metric, the labelled headline
  files.py     a run's files as plain data (read_json): a missing or corrupt one is an error naming it

Comparisons of runs are study reports (dvae_jax.study). No jax here: reading and formatting numbers only.
"""

from dvae_jax.reports.headline import (
  HEADLINE,
  LOSS_NAMES,
  format_evaluation,
  format_headline,
  format_metrics,
  format_training_end,
  headline_rows,
)

__all__ = [
  "HEADLINE",
  "LOSS_NAMES",
  "format_evaluation",
  "format_headline",
  "format_metrics",
  "format_training_end",
  "headline_rows",
]
