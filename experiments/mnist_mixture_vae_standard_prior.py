"""The N(0, I) twin of experiments/mnist_mixture_vae.py: the same network, data and budget, the
standard normal prior (analytic KL). Together they compare the two priors.

  dvae train --config experiments/mnist_mixture_vae_standard_prior.py --workdir runs/mnist_standard_prior_vae
  dvae evaluate --workdir runs/mnist_standard_prior_vae
  dvae study run experiments/studies/mixture_prior.py:cpu3   # both priors over 3 seeds

No published number for this exact model. Measured (10 epochs, seed 0, 2 CPU cores): test -ELBO
102.81, KL 27.38, IW NLL 96.61 (k = 1000, first 1000 test images); experiments/mnist_mixture_vae.py
has the mixture's.
"""

from dvae_jax import configs


def get_config(variant: str | None = None):
  config = configs.presets.mixture_comparison(configs.base_config("vae", "mlp"), mixture=False)
  return configs.apply_variant(config, variant)
