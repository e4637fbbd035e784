"""The flax-example MLP VAE with a learned mixture of 10 Gaussians as its prior.

The network, objective and optimizer of experiments/mnist_vae_flax.py (784-500-20 MLP, Bernoulli
likelihood, one posterior sample, Adam 1e-3 on the per-image mean), but on dynamically binarized
MNIST (all 54,000 training images, binarized afresh at every step; test images binarized once) and
with p(z) = sum_k pi_k N(z; mu_k, diag sigma_k^2), K = 10, learned with the model; its KL is a
Monte-Carlo estimate (dvae_jax/models/priors.py says why this and not the full GMVAE). Its N(0, I)
twin, the same in everything but the prior: experiments/mnist_mixture_vae_standard_prior.py.

  dvae train --config experiments/mnist_mixture_vae.py --workdir runs/mnist_mixture_vae
  dvae evaluate --workdir runs/mnist_mixture_vae    # adds cluster_accuracy(_many_to_one)
  dvae train --config experiments/mnist_mixture_vae.py:smoke --workdir /tmp/smoke   # seconds
  dvae study run experiments/studies/mixture_prior.py:cpu3   # both priors over 3 seeds, then `dvae study report`

`dvae evaluate` reports, besides the VAE's terms and the importance-weighted test NLL (k = 1000,
on the first 1000 test images; --config.eval.iw_limit=10000 for all of them), the accuracy of the
components as clusters of the digits: under the best one-to-one mapping of components to labels
and under the majority-label mapping.

No published number for this exact model. Measured (10 epochs, seed 0, 2 CPU cores, ~4.5 min a
model with evaluation): test -ELBO 100.50 (N(0, I) twin: 102.81), KL 25.36 (27.38), IW NLL 94.68
(96.61; k = 1000, first 1000 test images), cluster accuracy 0.595 one-to-one, 0.599 many-to-one,
all 10 components used.
"""

from dvae_jax import configs


def get_config(variant: str | None = None):
  config = configs.presets.mixture_comparison(configs.base_config("vae", "mlp"), mixture=True)
  return configs.apply_variant(config, variant)
