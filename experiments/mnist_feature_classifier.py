"""A small MLP classifier on MNIST or Fashion-MNIST in [0, 1] as read (not inverted): the judge of the
learnable-loss runs (experiments/mnist_vae_gan.py, mnist_dense_vae.py), whose classifier error on
reconstructions and classifier-feature Frechet distance it provides (`dvae evaluate
--classifier_workdir`). Not a seed's network: the reference's CNN (experiments/mnist_classifier.py)
sees inverted images, and this one trains in about a minute on a CPU.

784 -> 512 -> 512 (batch norm, ReLU) -> 10, Adam 1e-3 on the per-image mean over batches of 128,
5 epochs; variant "fashion" for Fashion-MNIST, combinable with "smoke":

  dvae train --config experiments/mnist_feature_classifier.py --workdir runs/mnist_feature_classifier
  dvae train --config experiments/mnist_feature_classifier.py:fashion --workdir runs/fashion_feature_classifier
"""

from dvae_jax import configs

VARIANTS = {"fashion": False}


def get_config(variant: str | None = None):
  arg = configs.parse_variant(variant, VARIANTS)
  config = configs.base_config("classifier", "mlp")
  config.data.invert = False
  if arg.fashion:
    config.data.name = "fashion_mnist"
  network = config.model.network
  network.fc_sizes = (512, 512)
  network.activation = "relu"
  network.batch_norm = True
  network.bn_momentum = 0.9
  config.model.weight_decay = 0.0
  config.model.l2_scheme = "single"
  config.model.label_batch_norm = False
  configs.presets.constant_adam(config, learning_rate=1e-3, batch_size=128)
  config.train.num_epochs = 5
  config.train.checkpoint_every_steps = 1000
  config.eval.iw_samples = 0
  return configs.apply_variant(config, arg)
