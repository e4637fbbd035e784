"""Seed 003's dense VAE on MNIST without a discriminator: the baseline of the learnable-loss runs
(REFERENCE.md section 5; experiments/mnist_vae_gan.py adds the discriminator).

5 latents, 3 hidden layers of 400 (ReLU), MNIST in [0, 1], Adam 1e-3, batch 64, 50 epochs; the
pixel-by-pixel loss is BCE or L2 (variants "bce", the default, and "l2"), on MNIST or, with the
variant "fashion", Fashion-MNIST; combinable with "smoke" or "cpu" (comma-separated):

  dvae train --config experiments/mnist_dense_vae.py --workdir runs/mnist_dense_vae_bce
  dvae train --config experiments/mnist_dense_vae.py:l2 --workdir runs/mnist_dense_vae_l2
  dvae train --config experiments/mnist_dense_vae.py:fashion --workdir runs/fashion_dense_vae_bce
  dvae train --config experiments/mnist_dense_vae.py:l2,smoke --workdir /tmp/smoke   # seconds

The seed publishes reconstructions of the first ten test digits, no number.
"""

from dvae_jax import configs


def get_config(variant: str | None = None, family: str = "vae"):
  own, generic = configs.split_variants(variant, ("bce", "l2", "fashion"))
  config = configs.seed003_mnist(configs.base_config(family, "mlp"), pixel_loss="l2" if "l2" in own else "bce")
  if "fashion" in own:
    config.data.name = "fashion_mnist"
  return configs.apply_variant(config, generic)
