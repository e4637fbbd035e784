"""Im et al.'s input-corruption denoising VAE (the `input_corruption_vae` family) on dynamically binarized
MNIST (AAAI 2017).

The encoder sees the input with Gaussian noise (std 0.025, the authors' re-implementation's) and
the decoder reconstructs the clean image; one corruption per image (`corruption_samples`), K = 10
posterior draws. Network, data and schedule: `configs.presets.im_et_al_binarized_mnist`, the same
as experiments/mnist_binarized_mlp_vae.py, the plain VAE it is compared with (by the test NLL of
the two at the same budget).

  dvae train --config experiments/mnist_binarized_denoising_vae.py --workdir runs/mnist_binarized_denoising_vae
  dvae evaluate --workdir runs/mnist_binarized_denoising_vae      # iw_nll_nats: -log p(x), k = 5000
  dvae study run experiments/studies/denoising_vae_nll.py:cpu3    # both over 3 seeds

Measured at a shortened budget (2 epochs): results/denoising_vae_nll_cpu3/README.md. The full schedule
has not been run.
"""

from dvae_jax import configs


def get_config(variant: str | None = None):
  config = configs.presets.im_et_al_binarized_mnist(configs.base_config("input_corruption_vae", "mlp"))
  config.model.corruption.update(name="gaussian", std=0.025, clip=False)
  config.model.corruption_samples = 1
  return configs.apply_variant(config, variant)
