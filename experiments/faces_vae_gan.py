"""Seed 003's 64 x 64 face runs: a convolutional VAE against a discriminator (REFERENCE.md section 5).

Data: a folder of face images (anime faces as in the seed, CelebA's img_align_celeba/, any folder)
read as `data.name=image_folder` from `--config.data.path`, resized to 64 x 64 RGB, split 80/20 by
a seeded shuffle. VAE: `seed003_conv` (32 base channels, 4 stride-2 stages) with 512 latents and
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

The seed publishes image grids and wall times (200 epochs: 6783 s all combo, 5515 s with 50 solo
epochs, 4326 s with 100), no metric.
"""

from dvae_jax import configs

VARIANTS = ("conv", "conv1024", "resnet", "resnet_solo", "resnet_2e-4", "deep")


def get_config(variant: str | None = None, family: str = "vae_gan"):
  own, generic = configs.split_variants(variant, VARIANTS)
  if len(own) > 1:
    raise configs.ConfigError(f"config variant {variant!r}: expected at most one of {list(VARIANTS)}.")
  name = own[0] if own else "conv"
  config = configs.seed003_faces(configs.base_config(family, "seed003_conv"))
  model = config.model
  if family == "vae_gan":
    discriminator = {"conv": "conv_discriminator", "conv1024": "conv_discriminator", "deep": "deep_conv_discriminator"}
    model.discriminator = configs.network_section(discriminator.get(name, "resnet_discriminator"))
    if name == "conv1024":
      model.discriminator.base_channels = 64
    if name in ("resnet_solo", "resnet_2e-4", "deep"):
      model.solo_epochs = 100
      model.pbp_decay = 0.95
      model.pbp_decay_epochs = 25
  if name in ("conv1024", "resnet_solo", "resnet_2e-4", "deep"):
    model.latent_dim = 1024
  if name == "deep":
    model.network.extra_convs = 1
  if name in ("resnet_2e-4", "deep"):
    config.optim.learning_rate = 2e-4
    config.optim.discriminator_learning_rate = 2e-4
  return configs.apply_variant(config, generic)
