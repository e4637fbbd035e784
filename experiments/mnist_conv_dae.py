"""Seed 001's convolutional denoising autoencoder on MNIST (arunarn2/AutoEncoder; REFERENCE.md section 3).

Network `seed001_conv`: three 5x5 convs of 64 channels (LeakyReLU) with two 2x2 max-pools to a
7x7x64 code; a conv, two stride-2 transposed convs and a last conv back to 28x28. The encoder sees
x + 0.5 * N(0, 1) clipped to [0, 1]; the target is the clean x. Batch 64, 25 epochs; validation is
the first 5000 training images (TF's `input_data` split, 55000 for training).

  dvae train --config experiments/mnist_conv_dae.py --workdir runs/mnist_conv_dae
  dvae evaluate --workdir runs/mnist_conv_dae --iw_samples 0

Loss: the seed minimizes the mean sigmoid cross-entropy over pixels and images; here it is summed
over the 784 pixels of each image (nats) and averaged over the batch, 784 x the seed's. Adam's steps
do not depend on a constant scale of the loss (up to its eps), so that changes nothing by itself.
Learning rate: the seed's Adam 1e-5 barely moves in a few CPU minutes, so this config uses 1e-3
(`--config.optim.learning_rate=1e-5` for the seed's).
"""

from dvae_jax import configs


def get_config(variant: str | None = None):
  config = configs.plain_mnist(configs.base_config("ae", "seed001_conv"), batch_size=64)
  config.data.validation_fraction = 5000 / 60000
  config.model.corruption.update(name="gaussian", std=0.5, clip=True)
  config.train.num_epochs = 25
  return configs.apply_variant(config, variant)
