"""The reference denoising VAE on MNIST (dojoteef/dvae; REFERENCE.md section 1).

As experiments/mnist_vae.py, plus a DAE whose input is the VAE's sigmoid output: it shares the
VAE's encoder, decodes the deterministic 192-d features with its own generator, and is trained
jointly to reconstruct the clean image (its loss flows back into the VAE).

  dvae train --config experiments/mnist_dvae.py --workdir runs/mnist_dvae
  dvae train --config experiments/mnist_dvae.py:smoke --workdir /tmp/smoke   # seconds, for tests
  dvae train --config experiments/mnist_dvae.py:cpu --workdir runs/mnist_dvae_cpu   # ~10 min on a 2-core CPU
  (samples 5: --config.model.samples=5)

Published (250 epochs): test loss 71.648 / test KLD 25.728 (samples 1); 65.132 / 19.581 (samples 5).

Where this differs from the reference's code (REFERENCE.md section 1), by design:
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
  config = configs.base_config("dvae")
  config.published = "dojoteef/dvae"  # dvae evaluate prints the published cell beside ours
  return configs.apply_variant(config, variant)
