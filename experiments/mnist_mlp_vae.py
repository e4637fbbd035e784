"""The basic fully connected VAE of a 2017 wiki page on VAEs, on MNIST, with z = 100, 10 or 2.

The original feeds flattened images to "3 layers of fully connected layers" whose last produces the
posterior's mean and scale, and cites TensorFlow's basic VAE tutorial for the code. Inferred from
that tutorial (the original gives no sizes): 784 -> 500 -> 500 softplus hidden layers (the `mlp`
network; the decoder mirrors them), log-variance head, Xavier-uniform weights, Bernoulli
likelihood on grey levels in [0, 1] (not inverted), one posterior draw, Adam 1e-3 at a constant
rate on the per-image mean over batches of 100. 13 epochs: the original's log shows epochs 0-12.

The latent size is a variant: "z100" (the default), "z10" or "z2", combinable with "smoke"
(comma-separated; the smoke variant keeps the chosen z):

  dvae train --config experiments/mnist_mlp_vae.py:z100 --workdir runs/mnist_mlp_vae_z100
  dvae train --config experiments/mnist_mlp_vae.py:z10 --workdir runs/mnist_mlp_vae_z10
  dvae train --config experiments/mnist_mlp_vae.py:z2 --workdir runs/mnist_mlp_vae_z2
  dvae train --config experiments/mnist_mlp_vae.py:z10,smoke --workdir /tmp/smoke   # seconds
  dvae evaluate --workdir runs/mnist_mlp_vae_z10

The original publishes reconstructions and samples for each z, and its training cost (a sum over the
data set, not per image), no per-image number.
"""

from dvae_jax import configs

VARIANTS = {"latent_dim": {"z100": 100, "z10": 10, "z2": 2}}


def get_config(variant: str | None = None):
  arg = configs.parse_variant(variant, VARIANTS)
  config = configs.presets.textbook_vae(configs.base_config("vae", "mlp"), batch_size=100)
  network = config.model.network
  network.fc_sizes = (500, 500)
  network.activation = "softplus"
  network.kernel_init = "xavier_uniform"
  config.train.num_epochs = 13
  config = configs.apply_variant(config, arg)
  config.model.latent_dim = arg.latent_dim  # after the variant: smoke keeps the chosen z
  return config
