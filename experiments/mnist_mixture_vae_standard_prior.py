"""The N(0, I) twin of experiments/mnist_mixture_vae.py: the same network, data and budget, the
standard normal prior (analytic KL). Together they compare the two priors (issue 6, item 5).

  dvae train --config experiments/mnist_mixture_vae_standard_prior.py --workdir runs/mnist_standard_prior_vae
  dvae evaluate --workdir runs/mnist_standard_prior_vae
  scripts/reproduce_mixture_prior.sh    # both priors, then one table

Expected: as the mixture run, no published number; the measured table is the script's output.
"""

import pathlib
import runpy

from dvae_jax import configs

shared_config = runpy.run_path(str(pathlib.Path(__file__).with_name("mnist_mixture_vae.py")))["shared_config"]


def get_config(variant: str | None = None):
  return configs.apply_variant(shared_config(), variant)
