"""The reference's evaluation classifier on CIFAR-10 (dojoteef/dvae).

As experiments/mnist_classifier.py on CIFAR-10 (/255 floats, no augmentation): Adam lr 0.01
x0.1 every 50 epochs, 250 epochs, batch 64.

  dvae train --config experiments/cifar10_classifier.py --workdir runs/cifar10_classifier

Published: 22.23% test error on real CIFAR-10 images.
"""

from dvae_jax import configs


def get_config(variant: str | None = None):
  config = configs.presets.classifier_reference(configs.presets.cifar10_reference(configs.base_config("classifier")))
  config.train.num_epochs = 250
  config.optim.decay_epochs = 50
  config.published = "dojoteef/dvae"  # dvae evaluate prints the published cell beside ours
  return configs.apply_variant(config, variant)
