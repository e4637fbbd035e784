"""`python -m dvae_jax.reports TABLE ...`: a study's markdown table (reports/tables.py)."""

import sys

from dvae_jax.reports.tables import main

sys.exit(main())
