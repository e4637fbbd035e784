"""The learnable-loss VAE's 64 x 64 face runs as xuganyu96/VAE-GAN-learnable-loss ran them: a VAE against a
discriminator, updated alternately (docs/reference.md has the original's code beside this).

Data: a folder of face images (anime faces as in the original, CelebA's img_align_celeba/, any folder)
read as `data.name=image_folder` from `--config.data.path`, resized to 64 x 64 RGB, split 80/20 by
a seeded shuffle, training on the whole 80% (no validation split, as the original). VAE: `face_dcgan`,
the original's network (two 4x4 stride-1 convs with batch norm, unconstrained dense posterior heads, a
DCGAN decoder without biases; 223M parameters with 512 latents);
BCE pixel loss; w_disc = 10, w_pbp = 1 (constant, as in every recorded run); Adam, batch 64,
Xavier-uniform init, 200 epochs. Variants (one run, optionally "light", combinable with "smoke" or "cpu"):

  conv         conv discriminator (3 stages, batch norm), 32 base channels, 512 latents (the default)
  conv1024     1024 latents, the conv discriminator with 64 base channels, 100 solo + 100 combo epochs, lr 2e-4
  resnet       the ResNet-18 discriminator, 512 latents
  resnet_solo  1024 latents, ResNet-18, 100 solo + 100 combo epochs
  resnet_2e-4  resnet_solo with both learning rates 2e-4
  deep         the wider DCGAN decoder (512 -> 64) and the deep conv discriminator (4 stages, 64 base channels),
               1024 latents, 100 solo + 100 combo epochs, lr 2e-4
  dense        a dense VAE (5 x 1024, 512 latents) against a dense logistic regressor (one hidden layer of 1024)
  light        with any of the conv runs: the lighter networks that train on a CPU (dcgan_conv and the
               discriminators without batch norm: docs/models.md), not the original's
  as_original  with any run: the original's pipeline, flaws included: its scrambled image layout
               (data.layout=reshaped_chw: each image reshaped, not transposed, to C x H x W) and, for the
               conv VAEs, its Dense -> BatchNorm -> ReLU posterior head (model.posterior_head=dense_bn_relu:
               mean >= 0, sigma >= 1); "original_layout" or "original_head" for one of them alone

  dvae train --config experiments/faces_vae_gan.py:resnet --workdir runs/faces_resnet \
    --config.data.path=/path/to/faces
  dvae train --config experiments/faces_vae_gan.py:resnet,light,cpu --workdir runs/faces_light \
    --config.data.path=/path/to/faces
  dvae train --config experiments/faces_vae_gan.py:resnet,as_original --workdir runs/faces_resnet_as_original \
    --config.data.path=/path/to/faces

The weight, decay and solo/combo sweeps of the original are experiments/studies/learnable_loss_sweeps.py;
without a discriminator: experiments/faces_vae.py. The original publishes image grids and wall times
(200 epochs: 6783 s all combo, 5515 s with 50 solo epochs, 4326 s with 100, 3121 s with 150) and each
run's per-epoch training losses; no metric on held-out images.
"""

from dvae_jax import configs
from dvae_jax.configs import presets

# FACE_RUNS: conv (the default), conv1024, resnet, ...; ORIGINAL_PIPELINE: None, original_layout, original_head, ...
VARIANTS = {"run": presets.FACE_RUNS, "light": False, "original": presets.ORIGINAL_PIPELINE}


def get_config(variant: str | None = None):
  arg = configs.parse_variant(variant, VARIANTS)
  config = configs.base_config("vae_gan", arg.run.vae_network(light=arg.light))
  config = presets.learnable_loss_face_run(config, run=arg.run, light=arg.light, original=arg.original)
  return configs.apply_variant(config, arg)
