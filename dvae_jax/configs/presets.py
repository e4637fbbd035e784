"""Settings that several experiments share, one function per published source or protocol, and the
builders of experiment families with variants (so that experiment files never load each other).

Each function takes a config from `base_config` and returns it changed; experiments compose them
and then change what is their own. Where a setting follows a published system, docs/reference.md
describes the original.
"""

import math

import ml_collections

from dvae_jax.configs.base import base_config, network_section
from dvae_jax.configs.variants import apply_variant, split_variants
from dvae_jax.errors import ConfigError
from dvae_jax.models import hparams
from dvae_jax.models.priors import MixturePrior


def cifar10_reference(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """dojoteef/dvae's CIFAR-10 data, network and schedule (docs/reference.md)."""
  config.data.name = "cifar10"
  config.data.invert = False
  config.model.network.conv_channels = (128, 64)
  config.model.network.fc_sizes = (512, 256)
  if "latent_dim" in config.model:  # not the classifier's
    config.model.latent_dim = 100
  config.optim.learning_rate = 0.001
  config.optim.decay_epochs = 200
  config.train.num_epochs = 500
  return config


def classifier_reference(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """dojoteef/dvae's separate evaluation CNN; the schedule is per dataset.

  `config` must come from `base_config("classifier")`.
  """
  config.model.network.conv_channels = (128, 64, 32)
  config.model.network.fc_sizes = (1024, 512, 512)
  config.optim.learning_rate = 0.01
  return config


def constant_adam(
  config: ml_collections.ConfigDict, *, learning_rate: float, batch_size: int
) -> ml_collections.ConfigDict:
  """Adam at a constant `learning_rate` on the per-image mean over batches of `batch_size`, no
  gradient clipping: the textbook setting the non-reference experiments share."""
  config.optim.schedule = "constant"
  config.optim.learning_rate = learning_rate
  config.optim.clip_value = 0.0
  config.optim.batch_reduction = "mean"
  config.train.batch_size = batch_size
  return config


def autoencoder_mnist(
  config: ml_collections.ConfigDict, *, batch_size: int, num_epochs: int, likelihood: str
) -> ml_collections.ConfigDict:
  """The setting of arunarn2/AutoEncoder and of Hands-On ML's autoencoders: MNIST in [0, 1] as
  read (not inverted, not binarized), validation from the start of the training file, Glorot-uniform
  weights (the TF / Keras default), Adam at a constant 1e-3 on the per-image mean over the batch
  (Keras averages its loss over the batch), no L2 and no gradient clipping; the original's batch size,
  epochs and loss (`likelihood`: "bernoulli" for a cross-entropy, "gaussian" for an MSE)."""
  config.model.likelihood = likelihood
  config.data.invert = False
  config.data.binarize = "none"
  config.data.validation_split = "first"
  config.model.weight_decay = 0.0
  config.model.network.kernel_init = "xavier_uniform"
  constant_adam(config, learning_rate=1e-3, batch_size=batch_size)
  config.train.num_epochs = num_epochs
  return config


def textbook_vae(config: ml_collections.ConfigDict, *, batch_size: int) -> ml_collections.ConfigDict:
  """The textbook VAE setting shared by the flax-example, arunarn2 and MLP VAEs: MNIST not inverted,
  one posterior draw (the ELBO), no label head, no L2, Adam 1e-3 at a constant rate on the per-image
  mean over the batch, no gradient clipping; test NLL with k = 1000 importance samples.

  `config` must come from `base_config("vae", network)`.
  """
  config.data.invert = False
  model = config.model
  model.weight_decay = 0.0
  model.l2_scheme = "single"
  model.samples = 1
  for key, value in (("label_head", False), ("sample_mode", "elbo")):
    if key in model:  # not keys of a family that fixes them (vae_gan)
      model[key] = value
  constant_adam(config, learning_rate=1e-3, batch_size=batch_size)
  config.train.log_every_steps = 100
  config.train.checkpoint_every_steps = 1000
  config.eval.iw_samples = 1000
  config.eval.iw_batch_size = 200
  return config


def im_et_al_binarized_mnist(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Im et al.'s setting (AAAI 2017, the authors' re-implementation), shared by the denoising VAE and the VAE it is
  compared with: dynamically binarized MNIST (not inverted), a fully connected network with batch
  norm and LeakyReLU, z = 128, K = 10 posterior draws, Adam 1e-4 on the per-image mean over batches
  of 100, weight decay 5e-5, 200 epochs (the authors' re-implementation). Its network differs in
  details the `mlp` network does not have: LeakyReLU slope 0.2 (here 0.01), a tanh on the decoder's
  last hidden layer, batch norm with a trainable scale and offset.

  `config` must come from `base_config(family, "mlp")` for a latent-variable family.
  """
  config.data.invert = False
  config.data.binarize = "dynamic"
  network = config.model.network
  network.fc_sizes = (512, 512)
  network.activation = "leaky_relu"
  network.batch_norm = True
  network.bn_momentum = 0.9  # PyTorch's default (its momentum 0.1); settles within a short run
  config.model.latent_dim = 128
  config.model.samples = 10
  config.model.weight_decay = 5e-5
  config.model.l2_scheme = "single"  # plain weight decay
  constant_adam(config, learning_rate=1e-4, batch_size=100)
  config.train.eval_batch_size = 200
  config.train.num_epochs = 200
  config.train.checkpoint_every_steps = 2000
  config.eval.iw_batch_size = 100
  return config


def learnable_loss_mnist(config: ml_collections.ConfigDict, *, pixel_loss: str) -> ml_collections.ConfigDict:
  """The MNIST setting of xuganyu96/VAE-GAN-learnable-loss: a dense VAE with 5 latents and 3 hidden
  layers of 400 (ReLU, Xavier-uniform init: mxnet's `mx.init.Xavier()`) trained on all 60,000 MNIST
  training images in [0, 1] (not inverted; no validation split), one posterior draw, no label head
  and no L2, Adam 1e-3 at a constant rate on the per-image mean over batches of 64, 50 epochs.
  `pixel_loss`: "bce" (a Bernoulli likelihood) or "l2" (the sum of squared errors: a Gaussian
  likelihood of variance 1/2, whose -log p is that sum plus a constant).

  `config` must come from `base_config(family, "mlp")` for the vae or vae_gan family.
  """
  if pixel_loss not in ("bce", "l2"):
    raise ConfigError(f"pixel loss {pixel_loss!r}: expected 'bce' or 'l2'.")
  textbook_vae(config, batch_size=64)
  config.data.validation_fraction = 0.0
  network = config.model.network
  network.fc_sizes = (400, 400, 400)
  network.activation = "relu"
  network.kernel_init = "xavier_uniform"
  config.model.latent_dim = 5
  if pixel_loss == "l2":
    config.model.likelihood = "gaussian"
    config.model.gaussian_log_std = -0.5 * math.log(2.0)
  config.train.num_epochs = 50
  config.train.checkpoint_every_steps = 1000
  return config


def learnable_loss_faces(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The face setting of xuganyu96/VAE-GAN-learnable-loss: an image folder (`data.path`) resized to
  64 x 64 RGB and split 80/20 by a seeded shuffle, one posterior draw, no label head and no L2,
  Xavier-uniform init, BCE pixel loss, Adam 1e-3 on the per-image mean over batches of 64, 200 epochs.

  `config` must come from `base_config(family, network)` for the vae or vae_gan family.
  """
  config.data.name = "image_folder"
  config.data.invert = False
  config.data.image_size = 64
  config.data.test_fraction = 0.2
  textbook_vae(config, batch_size=64)
  config.model.latent_dim = 512
  config.model.network.kernel_init = "xavier_uniform"
  config.train.num_epochs = 200
  config.train.checkpoint_every_steps = 1000
  config.eval.iw_samples = 0  # a likelihood of continuous colour images in nats says little here
  return config


def flax_example_vae() -> ml_collections.ConfigDict:
  """The google/flax `examples/vae` model: MLP 784-500-20 (ReLU, LeCun-normal init, no batch norm),
  statically binarized MNIST (the first 50,000 training images), Adam 1e-3 at a constant rate,
  batch 128, 10 epochs."""
  config = textbook_vae(base_config("vae", "mlp"), batch_size=128)
  config.data.binarize = "static"
  config.data.train_limit = 50_000
  network = config.model.network
  network.fc_sizes = (500,)
  network.activation = "relu"
  network.kernel_init = "lecun_normal"
  network.batch_norm = False
  config.model.latent_dim = 20
  config.train.num_epochs = 10
  return config


def mixture_comparison(*, mixture: bool) -> ml_collections.ConfigDict:
  """The flax-example VAE on dynamically binarized MNIST (all 54,000 training images), with a learned
  mixture of 10 Gaussians as prior (`mixture`) or N(0, I): the two arms of the prior comparison,
  the same in everything but the prior; test NLL with k = 1000 on the first 1000 test images."""
  config = flax_example_vae()
  config.data.binarize = "dynamic"
  config.data.train_limit = None
  config.eval.iw_samples = 1000
  config.eval.iw_limit = 1000
  if mixture:
    config.model.prior = hparams.to_dict(MixturePrior(components=10))
  return config


DENSE_VAE_VARIANTS = ("bce", "l2", "fashion")


def learnable_loss_dense_vae(variant: str | None, *, family: str) -> ml_collections.ConfigDict:
  """The dense MNIST VAE of xuganyu96/VAE-GAN-learnable-loss (`family` "vae": alone; "vae_gan": with
  the discriminator the experiment sets), with its own variants (DENSE_VAE_VARIANTS: "bce", the
  default, or "l2" pixel loss; "fashion" for Fashion-MNIST) and at most one generic variant."""
  own, generic = split_variants(variant, DENSE_VAE_VARIANTS)
  config = learnable_loss_mnist(base_config(family, "mlp"), pixel_loss="l2" if "l2" in own else "bce")
  if "fashion" in own:
    config.data.name = "fashion_mnist"
  return apply_variant(config, generic)


# The face runs as the original's run records have them (w_disc 10, w_pbp 1 and constant in every one):
# variant -> (VAE network, discriminator, latents, solo epochs, learning rate of both players).
FACE_RUNS = {
  "conv": ("face_dcgan", "conv_bn_discriminator", 512, 0, 1e-3),
  "conv1024": ("face_dcgan", "conv_bn_discriminator", 1024, 100, 2e-4),  # its discriminator: 64 base channels
  "resnet": ("face_dcgan", "resnet18_discriminator", 512, 0, 1e-3),
  "resnet_solo": ("face_dcgan", "resnet18_discriminator", 1024, 100, 1e-3),
  "resnet_2e-4": ("face_dcgan", "resnet18_discriminator", 1024, 100, 2e-4),
  "deep": ("face_dcgan", "deep_conv_bn_discriminator", 1024, 100, 2e-4),  # the wider decoder
  "dense": ("mlp", "dense_discriminator", 512, 0, 1e-3),  # 5 x 1024 dense layers; D: one hidden layer of 1024
}
FACE_VARIANTS = (*FACE_RUNS, "light")
FACE_VAE_VARIANTS = ("conv", "conv1024", "deep", "dense", "light")  # the runs without a discriminator
# "light": today's lighter CPU networks instead of the original's (docs/models.md): VAE network, discriminator.
LIGHT_NETWORKS = {
  "face_dcgan": "face_conv",
  "conv_bn_discriminator": "conv_discriminator",
  "resnet18_discriminator": "resnet_discriminator",
  "deep_conv_bn_discriminator": "deep_conv_discriminator",
}


def learnable_loss_faces_run(variant: str | None, *, family: str) -> ml_collections.ConfigDict:
  """One of the 64 x 64 face runs of xuganyu96/VAE-GAN-learnable-loss (FACE_RUNS; `family` "vae_gan"
  against its discriminator, or "vae" for the VAE alone, FACE_VAE_VARIANTS), optionally "light" (the
  lighter networks that train on a CPU), with at most one generic variant ("smoke" or "cpu")."""
  allowed = FACE_VARIANTS if family == "vae_gan" else FACE_VAE_VARIANTS
  own, generic = split_variants(variant, allowed)
  light = "light" in own
  runs = [name for name in own if name != "light"]
  if len(runs) > 1:
    raise ConfigError(f"config variant {variant!r}: expected at most one of {list(FACE_RUNS)} (and 'light').")
  name = runs[0] if runs else "conv"
  network, discriminator, latents, solo_epochs, learning_rate = FACE_RUNS[name]
  if light and name == "dense":
    raise ConfigError(f"config variant {variant!r}: the dense run has no lighter network; drop 'light'.")
  config = learnable_loss_faces(base_config(family, LIGHT_NETWORKS[network] if light else network))
  model = config.model
  model.latent_dim = latents
  if name == "dense":
    model.network.fc_sizes = (1024,) * 5
    model.network.activation = "relu"
    model.network.batch_norm = False
  if name == "deep":
    if light:
      model.network.extra_convs = 1
    else:
      model.network.decoder_channels = (512, 256, 128, 64)
  if family == "vae_gan":
    model.discriminator = network_section(LIGHT_NETWORKS[discriminator] if light else discriminator)
    model.discriminator.kernel_init = "xavier_uniform"
    if name == "dense":
      model.discriminator.hidden_sizes = (1024,)
    if name == "conv1024":
      model.discriminator.base_channels = 64
    model.disc_weight = 10.0
    model.solo_epochs = solo_epochs
    config.optim.discriminator_learning_rate = learning_rate
  config.optim.learning_rate = learning_rate
  return apply_variant(config, generic)
