"""The reference denoising VAE on MNIST (dojoteef/dvae; REFERENCE.md section 1).

As experiments/mnist_vae.py, plus a DAE whose input is the VAE's sigmoid output: it shares the
VAE's encoder, decodes the deterministic 192-d features with its own generator, and is trained
jointly to reconstruct the clean image (its loss flows back into the VAE).

  dvae train --config experiments/mnist_dvae.py --workdir runs/mnist_dvae
  dvae train --config experiments/mnist_dvae.py:smoke --workdir /tmp/smoke   # seconds, for tests
  (samples 5: --config.model.samples=5)

Published (250 epochs): test loss 71.648 / test KLD 25.728 (samples 1); 65.132 / 19.581 (samples 5).
"""

from dvae_jax import configs


def get_config(variant: str | None = None):
  config = configs.base_config("dvae")
  return configs.apply_variant(config, variant)
