"""The google/flax `examples/vae` model: an MLP VAE on statically binarized MNIST.

784-500-20 encoder (ReLU), 20-500-784 decoder, Bernoulli likelihood, N(0, I) prior, one posterior
sample; no batch norm, no label head, no L2, no gradient clipping; LeCun-normal weights (Flax's
default); Adam 1e-3 at a constant rate on the per-image mean over batches of 128; 10 epochs of
50,000 training images (the size of the flax example's training split).

  dvae train --config experiments/mnist_vae_flax.py --workdir runs/mnist_vae_flax
  dvae evaluate --workdir runs/mnist_vae_flax

The flax example documents a test loss (its -ELBO: summed BCE + KL per image, one sample) of about
104 nats after 10 epochs; `dvae evaluate` prints the same quantity as "-ELBO (output likelihood)".
One difference remains: the flax example reads TFDS's `binarized_mnist` (Larochelle's fixed
binarization), which these machines cannot download; here the images are MNIST's own, binarized
once per image (x ~ Bernoulli(pixel / 255), keyed by image id), and the 50,000 training images are
the first 50,000 after the validation split (the first 6,000 of the training file).
"""

from dvae_jax import configs


def get_config(variant: str | None = None):
  config = configs.presets.flax_example_vae(configs.base_config("vae", "mlp"))
  return configs.apply_variant(config, variant)
