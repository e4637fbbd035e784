"""The reference VAE on MNIST (dojoteef/dvae).

Inverted, non-binarized MNIST in [0, 1]; conv encoder/decoder with frozen-affine batch norm;
z = 50; the hidden label head's cross-entropy is part of the training loss; Adam lr 0.01 x0.1
every 50 epochs (floor 1e-5), gradients clipped at +-5, L2 5e-4
counted as the reference counts it (l2_scheme 'reference': once per image per loss term that
covers the layer), batch 64, 250 epochs.

  dvae train --config experiments/mnist_vae.py --workdir runs/mnist_vae
  dvae train --config experiments/mnist_vae.py:smoke --workdir /tmp/smoke   # seconds, for tests
  dvae train --config experiments/mnist_vae.py:cpu --workdir runs/mnist_vae_cpu   # minutes on a CPU
  (samples 5: --config.model.samples=5)

Published (250 epochs): test loss 74.248 / test KLD 20.900 (samples 1); 68.786 / 14.333 (samples 5).

Where this differs from the reference's code (docs/reference.md), by design:
- The last partial batch of an epoch (48 images) is dropped: 843 steps per epoch, not 844, so that
  every step has one global batch shape (sharded over the devices, compiled once).
- The learning-rate decay is counted in steps (decay_epochs * 843), the reference's in examples
  (step * 64 >= decay_epochs * 54000): for 50 epochs step 42150 instead of 42188, 0.09% earlier.
- optax's Adam adds epsilon to the bias-corrected sqrt(v_hat), TF's to the uncorrected sqrt(v):
  TF's update is m_hat / (sqrt(v_hat) + eps / sqrt(1 - b2^t)), a larger epsilon for the first few
  thousand steps (x31.6 at step 1, x1.26 at step 1000); with eps = 1e-8 it matters only for
  gradient entries near 1e-7.
"""

from dvae_jax import configs


def get_config(variant: str | None = None):
  config = configs.base_config("vae")
  config.published = "dojoteef/dvae"  # dvae evaluate prints the published cell beside ours
  return configs.apply_variant(config, variant)
