"""The learnable-loss VAE's dense VAE on MNIST without a discriminator: the baseline of the learnable-loss runs
(docs/reference.md; experiments/mnist_vae_gan.py adds the discriminator).

5 latents, 3 hidden layers of 400 (ReLU), MNIST in [0, 1], Adam 1e-3, batch 64, 50 epochs; the
pixel-by-pixel loss is BCE or L2 (variants "bce", the default, and "l2"), on MNIST or, with the
variant "fashion", Fashion-MNIST; combinable with "smoke" or "cpu" (comma-separated):

  dvae train --config experiments/mnist_dense_vae.py --workdir runs/mnist_dense_vae_bce
  dvae train --config experiments/mnist_dense_vae.py:l2 --workdir runs/mnist_dense_vae_l2
  dvae train --config experiments/mnist_dense_vae.py:fashion --workdir runs/fashion_dense_vae_bce
  dvae train --config experiments/mnist_dense_vae.py:l2,smoke --workdir /tmp/smoke   # seconds

The original publishes reconstructions of the first ten test digits, no number.
"""

from dvae_jax import configs

VARIANTS = {"pixel_loss": ("bce", "l2"), "fashion": False}


def get_config(variant: str | None = None):
  arg = configs.parse_variant(variant, VARIANTS)
  config = configs.base_config("vae", "mlp")
  config = configs.presets.learnable_loss_mnist(config, pixel_loss=arg.pixel_loss, fashion=arg.fashion)
  return configs.apply_variant(config, arg)
