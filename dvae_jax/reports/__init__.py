"""Every table of finished runs, in one place, tested on fixture files (tests/test_reports.py):

  headline.py  what `dvae evaluate` and `dvae train` print: every metric, the labelled headline
  tables.py    the studies' markdown tables (scripts/*.sh), `python -m dvae_jax.reports TABLE`
  files.py     a run's eval_test.json, config.json, metrics.jsonl and wall times as plain data

No jax here: reading and formatting numbers only.
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
from dvae_jax.reports.tables import (
  TABLES,
  ablation,
  autoencoders,
  binarized_nll,
  denoising_vae_nll,
  dvae_table,
  main,
  mixture_prior,
  vae_gan,
)

__all__ = [
  "HEADLINE",
  "LOSS_NAMES",
  "TABLES",
  "ablation",
  "autoencoders",
  "binarized_nll",
  "denoising_vae_nll",
  "dvae_table",
  "format_evaluation",
  "format_headline",
  "format_metrics",
  "format_training_end",
  "headline_rows",
  "main",
  "mixture_prior",
  "vae_gan",
]
