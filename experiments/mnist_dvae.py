"""The reference denoising VAE on MNIST (dojoteef/dvae).

As experiments/mnist_vae.py, plus a DAE whose input is the VAE's sigmoid output: it shares the
VAE's encoder, decodes the deterministic 192-d features with its own generator, and is trained
jointly to reconstruct the clean image (its loss flows back into the VAE).

  dvae train --config experiments/mnist_dvae.py --workdir runs/mnist_dvae
  dvae train --config experiments/mnist_dvae.py:smoke --workdir /tmp/smoke   # seconds, for tests
  dvae train --config experiments/mnist_dvae.py:cpu --workdir runs/mnist_dvae_cpu   # minutes on a CPU (time: README.md)
  (samples 5: --config.model.samples=5)

Published (250 epochs): test loss 71.648 / test KLD 25.728 (samples 1); 65.132 / 19.581 (samples 5).

Where this differs from the reference's code by design (the dropped partial batch, the decay counted
in steps, Adam's epsilon placement): see experiments/mnist_vae.py.
"""

from dvae_jax import configs


def get_config(variant: str | None = None):
  config = configs.base_config("dvae")
  config.published = "dojoteef/dvae"  # dvae evaluate prints the published cell beside ours
  return configs.apply_variant(config, variant)
