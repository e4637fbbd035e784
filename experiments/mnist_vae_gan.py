"""The learnable-loss VAE's dense VAE on MNIST against its dense logistic-regressor discriminator (one hidden
layer of 200): the VAE with a learnable loss as xuganyu96/VAE-GAN-learnable-loss's MNIST script runs it
(docs/reference.md).

The VAE, data and schedule of experiments/mnist_dense_vae.py (variants "bce" / "l2", "fashion",
combinable with "smoke" or "cpu"); VAE loss KL + w_pbp PBP + w_disc BCE(D(reconstruction), real)
with w_disc = 1 (the MNIST script's `gen_loss = vae + disc_loss`; the face runs use 10) and w_pbp = 1;
the discriminator trained on real vs reconstructed training images with its own Adam (1e-3); the
players update alternately, the discriminator first (model.update_order="alternating"); all 50 epochs
"combo" (no solo epochs).

  dvae train --config experiments/mnist_vae_gan.py --workdir runs/mnist_vae_gan_bce
  dvae train --config experiments/mnist_vae_gan.py:l2 --workdir runs/mnist_vae_gan_l2
  dvae train --config experiments/mnist_vae_gan.py:fashion --workdir runs/fashion_vae_gan_bce
  dvae train --config experiments/mnist_vae_gan.py:smoke --workdir /tmp/smoke   # seconds
"""

from dvae_jax import configs

VARIANTS = {"pixel_loss": ("bce", "l2"), "fashion": False}


def get_config(variant: str | None = None):
  arg = configs.parse_variant(variant, VARIANTS)
  config = configs.base_config("vae_gan", "mlp")
  config = configs.presets.learnable_loss_mnist(config, pixel_loss=arg.pixel_loss, fashion=arg.fashion)
  config = configs.apply_variant(config, arg)
  # After the variant: the discriminator keeps its size in every variant, smoke included.
  config.model.discriminator.hidden_sizes = (200,)
  config.model.discriminator.kernel_init = "xavier_uniform"
  config.model.disc_weight = 1.0
  config.model.pbp_weight = 1.0
  config.model.update_order = "alternating"
  return config
