"""Seed 003's dense VAE on MNIST against its dense logistic-regressor discriminator (one hidden
layer of 200): the VAE with a learnable loss (REFERENCE.md section 5).

The VAE, data and schedule of experiments/mnist_dense_vae.py (variants "bce" / "l2", "fashion",
combinable with "smoke" or "cpu"); VAE loss KL + w_pbp PBP + w_disc BCE(D(reconstruction), real)
with w_disc = 10 and w_pbp = 1, the discriminator trained on real vs reconstructed test images
with its own Adam (1e-3, the seed's MNIST rate), all 50 epochs "combo" (no solo epochs).

  dvae train --config experiments/mnist_vae_gan.py --workdir runs/mnist_vae_gan_bce
  dvae train --config experiments/mnist_vae_gan.py:l2 --workdir runs/mnist_vae_gan_l2
  dvae train --config experiments/mnist_vae_gan.py:fashion --workdir runs/fashion_vae_gan_bce
  dvae train --config experiments/mnist_vae_gan.py:smoke --workdir /tmp/smoke   # seconds
"""

import importlib.util
import pathlib


def _dense_vae():
  spec = importlib.util.spec_from_file_location(
    "mnist_dense_vae", pathlib.Path(__file__).with_name("mnist_dense_vae.py")
  )
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def get_config(variant: str | None = None):
  config = _dense_vae().get_config(variant, family="vae_gan")
  config.model.discriminator.hidden_sizes = (200,)
  config.model.disc_weight = 10.0
  config.model.pbp_weight = 1.0
  return config
