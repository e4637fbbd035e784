"""The reference's evaluation classifier on MNIST (dojoteef/dvae).

A separate CNN, not the VAE encoder: 5x5 conv blocks (BN, ReLU, 3x3/2 max-pool) with 128, 64, 32
channels, then FC 1024, 512, 512 and a 10-way layer whose logits are batch-normalized (fixed scale
and offset), as the reference builds it. Same preprocessing as the VAE runs
(inverted MNIST in [0, 1]), since it scores their reconstructions. Adam lr 0.01 x0.1 every 15
epochs, 60 epochs, batch 64.

  dvae train --config experiments/mnist_classifier.py --workdir runs/mnist_classifier
  dvae evaluate --workdir runs/mnist_classifier          # label_error = test error on real images
  dvae evaluate --workdir runs/mnist_vae --classifier_workdir runs/mnist_classifier

Published: 1.01% test error on real MNIST images.
"""

from dvae_jax import configs


def get_config(variant: str | None = None):
  config = configs.presets.classifier_reference(configs.base_config("classifier"))
  config.train.num_epochs = 60
  config.optim.decay_epochs = 15
  config.published = "dojoteef/dvae"  # dvae evaluate prints the published cell beside ours
  return configs.apply_variant(config, variant)
