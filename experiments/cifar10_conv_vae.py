"""The "advanced" VAE of the 2017 VAE wiki page (Fishest, after kvfran's VAE blog post and TensorFlow's
basic VAE tutorial): a convolutional encoder without pooling and a deconvolutional decoder, on
CIFAR-10 (the default variant, "cifar10") or on CelebA ("celeba").

The page's: strided convolutions instead of pooling in the encoder ("pooling layers can easily lose
information"), transposed convolutions in the decoder, the posterior's mean and standard deviation
from the encoder, and the basic network's loss, a Bernoulli cross-entropy on pixels in [0, 1]. It
gives no sizes or schedule. Ours, after kvfran's conv VAE (two 5x5 stride-2 convs of 16 and 32
channels, LeakyReLU 0.2, no batch norm; a dense layer to the last grid, then mirrored transposed
convs; Adam 1e-3, batch 100): the `dcgan_conv` network (4x4 stride-2 convs, no pooling) with
widths 16, 32 (, 64) and no batch norm, 2 stages for 32 x 32 images and 3 for 64 x 64 so that both
reach an 8 x 8 grid; sigma = softplus(h) (kvfran's head outputs the standard deviation itself,
unconstrained; softplus keeps it positive); Xavier-normal weights; one posterior draw; Adam 1e-3
at a constant rate on the per-image mean over batches of 100, no clipping and no L2; z = 100
(kvfran's is 20; this is experiments/cifar10_mlp_vae.py's, so the page's comparison of the two
networks changes the network only); 50 epochs on CIFAR-10, 20 on CelebA (ten times the images per epoch); no
importance-sampled NLL (a cross-entropy on continuous pixels is not a likelihood). Differences
from kvfran's network: 4x4 kernels (not 5x5), LeakyReLU (not ReLU) in the decoder too, and
Xavier-normal weights (not kvfran's N(0, 0.02), truncated in the convs).

CelebA is read as a folder of images (`data.path`: the extracted img_align_celeba/), each
centre-cropped to its 178 x 178 square and resized to 64 x 64 RGB, split 80/20 into training and
test images by a shuffle with its own seed (`data.split_seed`); the page does not say how it
cropped, resized or split. Variants combine with "smoke" or "cpu" (comma-separated):

  dvae train --config experiments/cifar10_conv_vae.py --workdir runs/cifar10_conv_vae
  dvae train --config experiments/cifar10_conv_vae.py:celeba --workdir runs/celeba_conv_vae \\
    --config.data.path=/path/to/img_align_celeba
  dvae train --config experiments/cifar10_conv_vae.py:celeba,smoke --workdir /tmp/smoke \\
    --config.data.path=/path/to/img_align_celeba   # seconds, once the folder is decoded

What it should reach: the page publishes pictures only, no number: on CIFAR-10, results "even
worse" than the fully connected network's; on CelebA, "pretty decent" reconstructions, all smiling
and without glasses, that do not improve with longer training.
"""

from dvae_jax import configs

VARIANTS = {"data": ("cifar10", "celeba")}


def get_config(variant: str | None = None):
  arg = configs.parse_variant(variant, VARIANTS)
  celeba = arg.data == "celeba"
  config = configs.presets.textbook_vae(configs.base_config("vae", "dcgan_conv"), batch_size=100)
  network = config.model.network
  network.base_channels = 16
  network.stages = 3 if celeba else 2
  network.batch_norm = False
  network.activation = "leaky_relu_0.2"
  network.kernel_init = "xavier_normal"
  config.model.posterior_scale = "softplus"
  config.model.latent_dim = 100
  config.eval.iw_samples = 0
  if celeba:
    config.data.name = "image_folder"
    config.data.image_size = 64
    config.data.center_crop = True
    config.data.image_channels = 3
    config.data.test_fraction = 0.2
    config.train.num_epochs = 20
  else:
    config.data.name = "cifar10"
    config.train.num_epochs = 50
  return configs.apply_variant(config, arg)
