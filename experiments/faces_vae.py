"""The learnable-loss VAE's 64 x 64 convolutional VAE on a face folder without a discriminator: the baseline of
experiments/faces_vae_gan.py (same data, VAE and schedule; variants "conv" with 512 latents, the
default, "conv1024" with 1024, "deep" for the deep VAE with 1024; combinable with "smoke" or "cpu").

  dvae train --config experiments/faces_vae.py --workdir runs/faces_vae --config.data.path=/path/to/faces
"""

from dvae_jax.configs import presets


def get_config(variant: str | None = None):
  return presets.learnable_loss_faces_run(variant, family="vae")
