"""The reference VAE on MNIST (dojoteef/dvae; REFERENCE.md section 1).

Inverted, non-binarized MNIST in [0, 1]; conv encoder/decoder with frozen-affine batch norm;
z = 50; the hidden label head's cross-entropy is part of the training loss; Adam lr 0.01 x0.1
every 50 epochs (floor 1e-5), gradients clipped at +-5, L2 5e-4, batch 64, 250 epochs.

  dvae train --config experiments/mnist_vae.py --workdir runs/mnist_vae
  dvae train --config experiments/mnist_vae.py:smoke --workdir /tmp/smoke   # seconds, for tests
  (samples 5: --config.model.samples=5)

Published (250 epochs): test loss 74.248 / test KLD 20.900 (samples 1); 68.786 / 14.333 (samples 5).
"""

from dvae_jax import configs


def get_config(variant: str | None = None):
  config = configs.base_config("vae")
  return configs.apply_variant(config, variant)
