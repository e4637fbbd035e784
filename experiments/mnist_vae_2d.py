"""The VAE with a 2-D latent of arunarn2/AutoEncoder, on MNIST.

The `arunarn2_mlp` network (784 -> 512 ELU -> 512 tanh; z -> 512 tanh -> 512 ELU -> 784, dropout
keep 0.9 after every hidden layer in training, He-normal weights), z = 2, sigma = softplus(h)
(`posterior_scale="softplus"`), Bernoulli likelihood on MNIST grey levels in [0, 1] (not inverted,
not binarized: the original's `input_data` images), one posterior draw, no label head, no L2; Adam 1e-3
at a constant rate on the per-image mean over batches of 128, no clipping, 5 epochs (the original's).

  dvae train --config experiments/mnist_vae_2d.py --workdir runs/mnist_vae_2d
  dvae evaluate --workdir runs/mnist_vae_2d

Its workdir is what the original's figures are drawn from: the 2-D codes of 5000 test images coloured
by digit, and a 20 x 20 grid of images decoded from [-2, 2]^2 (the latent manifold). The original
publishes those figures, no number. Differences: the original trains on 55,000 images (TF's
`input_data` split); here 54,000 (the first 6,000 are the validation split), and sigma is
softplus(h) without the original's + 1e-6 (the log-variance is computed stably instead).

Measured (5 epochs, 78 s on 2 shared CPU cores): test -ELBO 155.57 nats (KL 6.08), the rest cross-entropy
on grey levels, so not a likelihood of the data (the images are not binarized).
"""

from dvae_jax import configs


def get_config(variant: str | None = None):
  config = configs.presets.textbook_vae(configs.base_config("vae", "arunarn2_mlp"), batch_size=128)
  config.model.latent_dim = 2
  config.model.posterior_scale = "softplus"
  config.train.num_epochs = 5
  config = configs.apply_variant(config, variant)
  config.model.latent_dim = 2  # a 2-D latent in every variant
  return config
