"""The plain VAE that Im et al.'s denoising VAE is compared with, on dynamically binarized MNIST.

Network, data, K = 10 posterior draws (the k-sample ELBO average) and schedule:
`configs.presets.im_et_al_binarized_mnist`, the same as experiments/mnist_binarized_denoising_vae.py; no
corruption, no label head (docs/reference.md).

  dvae train --config experiments/mnist_binarized_mlp_vae.py --workdir runs/mnist_binarized_mlp_vae
  dvae evaluate --workdir runs/mnist_binarized_mlp_vae      # iw_nll_nats: -log p(x), k = 5000
  dvae study run experiments/studies/denoising_vae_nll.py:cpu3   # both over 3 seeds
"""

from dvae_jax import configs


def get_config(variant: str | None = None):
  config = configs.presets.im_et_al_binarized_mnist(configs.base_config("vae", "mlp"))
  config.model.sample_mode = "elbo"
  config.model.label_head = False
  return configs.apply_variant(config, variant)
