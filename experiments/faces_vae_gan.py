"""The learnable-loss VAE's 64 x 64 face runs: a convolutional VAE against a discriminator (docs/reference.md).

Data: a folder of face images (anime faces as in the original, CelebA's img_align_celeba/, any folder)
read as `data.name=image_folder` from `--config.data.path`, resized to 64 x 64 RGB, split 80/20 by
a seeded shuffle. VAE: `face_conv` (32 base channels, 4 stride-2 stages) with 512 latents and
unconstrained posterior heads; BCE pixel loss; w_disc = 10, w_pbp = 1; Adam 1e-3 (the VAE and the
discriminator), batch 64, Xavier init, 200 epochs. Variants (one, combinable with "smoke" or "cpu"):

  conv        conv discriminator, LeakyReLU, 32 base channels (the default)
  conv1024    1024 latents, a conv discriminator with 64 base channels
  resnet      the ResNet discriminator
  resnet_solo 1024 latents, ResNet discriminator, 100 solo + 100 combo epochs, w_pbp x0.95 every 25
  resnet_2e-4 resnet_solo with both learning rates 2e-4
  deep        the deep conv VAE (a 3x3 conv after each stage) and the deep conv discriminator, 1024
              latents, 100 solo + 100 combo epochs, learning rates 2e-4

  dvae train --config experiments/faces_vae_gan.py:resnet --workdir runs/faces_resnet \
    --config.data.path=/path/to/faces
  (the weight sweeps: --config.model.disc_weight=1 / 20 / 50, --config.model.pbp_weight=0.8 / 1.2;
   without a discriminator: experiments/faces_vae.py)

The original publishes image grids and wall times (200 epochs: 6783 s all combo, 5515 s with 50 solo
epochs, 4326 s with 100), no metric.
"""

from dvae_jax.configs import presets


def get_config(variant: str | None = None):
  return presets.learnable_loss_faces_run(variant, family="vae_gan")
