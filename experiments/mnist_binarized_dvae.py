"""The reference DVAE architecture on dynamically binarized MNIST: the standard likelihood protocol.

The network, objective and schedule of experiments/mnist_dvae.py, but the data are MNIST pixels
binarized afresh at every training step (x ~ Bernoulli(pixel / 255), not inverted), and the test
images are binarized once. Under the Bernoulli likelihood, `dvae evaluate`'s importance-weighted
estimate (k = 5000) is then a true test NLL in nats, comparable with the IWAE paper (Burda et al.
2015: one-stochastic-layer VAE 86.76 nats, IWAE k=50 84.78).

  dvae train --config experiments/mnist_binarized_dvae.py --workdir runs/mnist_binarized_dvae
  dvae evaluate --workdir runs/mnist_binarized_dvae      # iw_nll_nats
"""

from dvae_jax import configs


def get_config(variant: str | None = None):
  config = configs.base_config("dvae")
  config.data.invert = False
  config.data.binarize = "dynamic"
  return configs.apply_variant(config, variant)
