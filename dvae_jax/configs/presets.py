"""Settings that several experiments share, one function per published source or protocol, and the
records of run tables (FACE_RUNS), so that experiment files never load each other.

Every preset has one signature, `preset(config, *, settings) -> config`: it takes a config from
`base_config` (the docstring says which family and network), changes it and returns it; experiments
compose them and then change what is their own. Where a setting follows a published system,
docs/reference.md describes the original.
"""

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import ml_collections

from dvae_jax.configs.base import network_section
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


def learnable_loss_mnist(
  config: ml_collections.ConfigDict, *, pixel_loss: str, fashion: bool = False
) -> ml_collections.ConfigDict:
  """The MNIST setting of xuganyu96/VAE-GAN-learnable-loss: a dense VAE with 5 latents and 3 hidden
  layers of 400 (ReLU, Xavier-uniform init: mxnet's `mx.init.Xavier()`) trained on all 60,000 MNIST
  training images in [0, 1] (not inverted; no validation split), one posterior draw, no label head
  and no L2, Adam 1e-3 at a constant rate on the per-image mean over batches of 64, 50 epochs.
  `pixel_loss`: "bce" (a Bernoulli likelihood) or "l2" (the sum of squared errors: a Gaussian
  likelihood of variance 1/2, whose -log p is that sum plus a constant); `fashion`: Fashion-MNIST instead.

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
  if fashion:
    config.data.name = "fashion_mnist"
  return config


def learnable_loss_faces(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The face setting of xuganyu96/VAE-GAN-learnable-loss: an image folder (`data.path`) resized to
  64 x 64 RGB and split 80/20 by a seeded shuffle, training on the whole 80% (no validation split: the
  original validates on nothing but its 20%, the test split here), one posterior draw, no label head and
  no L2, Xavier-uniform init, BCE pixel loss, Adam 1e-3 on the per-image mean over batches of 64, 200 epochs.

  `config` must come from `base_config(family, network)` for the vae or vae_gan family.
  """
  config.data.name = "image_folder"
  config.data.invert = False
  config.data.image_size = 64
  config.data.test_fraction = 0.2
  config.data.validation_fraction = 0.0
  textbook_vae(config, batch_size=64)
  config.model.latent_dim = 512
  config.model.network.kernel_init = "xavier_uniform"
  config.train.num_epochs = 200
  config.train.checkpoint_every_steps = 1000
  config.eval.iw_samples = 0  # a likelihood of continuous colour images in nats says little here
  return config


def flax_example_vae(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The google/flax `examples/vae` model: MLP 784-500-20 (ReLU, LeCun-normal init, no batch norm),
  statically binarized MNIST (the first 50,000 training images), Adam 1e-3 at a constant rate,
  batch 128, 10 epochs.

  `config` must come from `base_config("vae", "mlp")`.
  """
  config = textbook_vae(config, batch_size=128)
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


def mixture_comparison(config: ml_collections.ConfigDict, *, mixture: bool) -> ml_collections.ConfigDict:
  """The flax-example VAE on dynamically binarized MNIST (all 54,000 training images), with a learned
  mixture of 10 Gaussians as prior (`mixture`) or N(0, I): the two arms of the prior comparison,
  the same in everything but the prior; test NLL with k = 1000 on the first 1000 test images.

  `config` must come from `base_config("vae", "mlp")`.
  """
  config = flax_example_vae(config)
  config.data.binarize = "dynamic"
  config.data.train_limit = None
  config.eval.iw_samples = 1000
  config.eval.iw_limit = 1000
  if mixture:
    config.model.prior = hparams.to_dict(MixturePrior(components=10))
  return config


# VaDE (Jiang et al., IJCAI 2017) on MNIST: the encoder's hidden layers (DEC's 784-500-500-2000-10 less its
# code layer; the decoder mirrors them) and the code's width.
VADE_TRUNK = (500, 500, 2000)
VADE_LATENT_DIM = 10


def vade_mnist(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """VaDE's MNIST protocol as the authors' code (slim1017/VaDE) has it, shared by its pretraining autoencoder
  (`config` from base_config("ae", "mlp")) and VaDE itself (base_config("vade", "mlp")): every one of the
  70,000 images trains (the training and the test file, labels unused: data.train_on_test), as pixel / 255
  (not inverted, not binarized); the test split validates (nothing is held out of training); the hidden
  layers VADE_TRUNK with ReLU and Glorot-uniform weights (Keras's default); a Bernoulli likelihood (the
  code's 784 x mean binary cross-entropy); no L2, no gradient clipping, the loss's mean over the batch
  (Keras's); no importance-weighted NLL (the pixels are not binary). VaDE's code is model.latent_dim
  (VADE_LATENT_DIM, the family's default); the autoencoder's is `vade_code_layer`'s, applied after the
  variant (the smoke variant shrinks the trunk).
  """
  data = config.data
  data.update(name="mnist", invert=False, binarize="none", train_on_test=True)
  data.update(validation_split="test", validation_fraction=0.0)
  config.model.network.update(fc_sizes=VADE_TRUNK, activation="relu", kernel_init="xavier_uniform")
  config.model.likelihood = "bernoulli"
  config.model.weight_decay = 0.0
  config.optim.clip_value = 0.0
  config.optim.batch_reduction = "mean"
  config.train.eval_batch_size = 1000
  config.eval.iw_samples = 0
  return config


def vade_code_layer(config: ml_collections.ConfigDict, latent_dim: int) -> ml_collections.ConfigDict:
  """The pretraining autoencoder's code (`config` from base_config("ae", "mlp") and `vade_mnist`): a linear
  layer of width `latent_dim` after the trunk `config` has, the decoder the trunk's mirror (the authors'
  ae_mnist.json: 784-500-500-2000-10-2000-500-500-784, ReLU, a sigmoid output). Its last encoder layer is
  what VaDE's posterior mean head starts from (models/vade.py)."""
  trunk = tuple(config.model.network.fc_sizes)
  config.model.network.update(
    fc_sizes=(*trunk, latent_dim), code_activation="linear", decoder_fc_sizes=tuple(reversed(trunk))
  )
  return config


@dataclasses.dataclass(frozen=True)
class FaceRun:
  """A 64 x 64 face run of xuganyu96/VAE-GAN-learnable-loss as its run records have it (w_disc 10, w_pbp 1
  and constant in every one); `learnable_loss_face_run` sets it.

  Attributes:
    network: the VAE's network.
    discriminator: the discriminator of the VAE + D run.
    latents: model.latent_dim.
    solo_epochs: VAE-only epochs before the combined ones (VAE + D).
    learning_rate: Adam's, of both players.
    network_keys: set on the VAE's network.
    light_network_keys: set on its lighter CPU stand-in (LIGHT_NETWORKS) instead; None: the run has none.
    discriminator_keys: set on the discriminator (the original's or its lighter stand-in).
    bn_relu_head: whether the original's VAE ends its encoder Dense -> BatchNorm -> ReLU (its conv VAEs do,
      its dense one does not): the head of the "as_original" variants.
  """

  network: str
  discriminator: str
  latents: int
  solo_epochs: int
  learning_rate: float
  network_keys: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  light_network_keys: Mapping[str, Any] | None = dataclasses.field(default_factory=dict)
  discriminator_keys: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  bn_relu_head: bool = True

  def vae_network(self, *, light: bool) -> str:
    """The VAE's network, or its lighter CPU stand-in (`light`); a ConfigError if the run has none."""
    if light and self.light_network_keys is None:
      raise ConfigError(f"the face run on {self.network!r} has no lighter network; drop the variant 'light'.")
    return LIGHT_NETWORKS[self.network] if light else self.network


# The face runs (experiments/faces_vae_gan.py's variants), as the original's run records have them.
FACE_RUNS = {
  "conv": FaceRun("face_dcgan", "conv_bn_discriminator", latents=512, solo_epochs=0, learning_rate=1e-3),
  "conv1024": FaceRun(
    "face_dcgan",
    "conv_bn_discriminator",
    latents=1024,
    solo_epochs=100,
    learning_rate=2e-4,
    discriminator_keys={"base_channels": 64},
  ),
  "resnet": FaceRun("face_dcgan", "resnet18_discriminator", latents=512, solo_epochs=0, learning_rate=1e-3),
  "resnet_solo": FaceRun("face_dcgan", "resnet18_discriminator", latents=1024, solo_epochs=100, learning_rate=1e-3),
  "resnet_2e-4": FaceRun("face_dcgan", "resnet18_discriminator", latents=1024, solo_epochs=100, learning_rate=2e-4),
  "deep": FaceRun(  # the wider decoder; on the lighter network, an extra conv per stage
    "face_dcgan",
    "deep_conv_bn_discriminator",
    latents=1024,
    solo_epochs=100,
    learning_rate=2e-4,
    network_keys={"decoder_channels": (512, 256, 128, 64)},
    light_network_keys={"extra_convs": 1},
  ),
  "dense": FaceRun(  # 5 x 1024 dense layers; D: one hidden layer of 1024
    "mlp",
    "dense_discriminator",
    latents=512,
    solo_epochs=0,
    learning_rate=1e-3,
    network_keys={"fc_sizes": (1024,) * 5, "activation": "relu", "batch_norm": False},
    light_network_keys=None,
    discriminator_keys={"hidden_sizes": (1024,)},
    bn_relu_head=False,
  ),
}
# The original's face pipeline as it ran, flaws included (docs/reference.md), chosen by the faces experiments'
# variants: "original_layout", its images reshaped rather than transposed to C x H x W (data.layout);
# "original_head", its conv VAEs' Dense -> BatchNorm -> ReLU posterior head (model.posterior_head);
# "as_original", both (the head only where the run's VAE had it: not the dense one).
ORIGINAL_PIPELINE = (None, "original_layout", "original_head", "as_original")
# The lighter CPU networks instead of the original's (docs/models.md): VAE network, discriminators.
LIGHT_NETWORKS = {
  "face_dcgan": "dcgan_conv",
  "conv_bn_discriminator": "conv_discriminator",
  "resnet18_discriminator": "resnet_discriminator",
  "deep_conv_bn_discriminator": "deep_conv_discriminator",
}


def learnable_loss_face_run(
  config: ml_collections.ConfigDict, *, run: FaceRun, light: bool = False, original: str | None = None
) -> ml_collections.ConfigDict:
  """One of the 64 x 64 face runs of xuganyu96/VAE-GAN-learnable-loss (FACE_RUNS), on the lighter networks
  that train on a CPU if `light`: the VAE + D of the run (family "vae_gan"), or its VAE alone ("vae"); with
  the original's scrambled layout and / or posterior head as `original` (one of ORIGINAL_PIPELINE) says.

  `config` must come from `base_config(family, run.vae_network(light=light))`.
  """
  if original not in ORIGINAL_PIPELINE:
    raise ConfigError(f"face run: original={original!r}; expected one of {ORIGINAL_PIPELINE}.")
  if original == "original_head" and not run.bn_relu_head:
    raise ConfigError(
      f"face run on {run.network!r}: the original's VAE of this run has plain posterior heads (only its conv VAEs "
      "end Dense -> BatchNorm -> ReLU); drop the variant 'original_head' ('as_original' gives this run as it ran)."
    )
  if config.model.network.name != run.vae_network(light=light):
    raise ConfigError(
      f"face run: config.model.network.name is {config.model.network.name!r}; expected "
      f"{run.vae_network(light=light)!r}, the run's (base_config(family, run.vae_network(light=light)))."
    )
  config = learnable_loss_faces(config)
  model = config.model
  model.latent_dim = run.latents
  model.network.update(run.light_network_keys if light else run.network_keys)
  if model.family == "vae_gan":
    model.discriminator = network_section(LIGHT_NETWORKS[run.discriminator] if light else run.discriminator)
    model.discriminator.kernel_init = "xavier_uniform"
    model.discriminator.update(run.discriminator_keys)
    model.disc_weight = 10.0
    model.solo_epochs = run.solo_epochs
    config.optim.discriminator_learning_rate = run.learning_rate
  config.optim.learning_rate = run.learning_rate
  if original in ("original_layout", "as_original"):
    config.data.layout = "reshaped_chw"
  if original in ("original_head", "as_original") and run.bn_relu_head:
    model.posterior_head = "dense_bn_relu"
  return config
