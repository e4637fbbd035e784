"""Seed 003's 64 x 64 convolutional VAE on a face folder without a discriminator: the baseline of
experiments/faces_vae_gan.py (same data, VAE and schedule; variants "conv" with 512 latents, the
default, "conv1024" with 1024, "deep" for the deep VAE with 1024; combinable with "smoke" or "cpu").

  dvae train --config experiments/faces_vae.py --workdir runs/faces_vae --config.data.path=/path/to/faces
"""

import importlib.util
import pathlib

from dvae_jax import configs


def get_config(variant: str | None = None):
  own, _ = configs.split_variants(variant, ("conv", "conv1024", "deep"))
  del own  # validated here; applied by the shared builder
  spec = importlib.util.spec_from_file_location("faces_vae_gan", pathlib.Path(__file__).with_name("faces_vae_gan.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(variant, family="vae")
