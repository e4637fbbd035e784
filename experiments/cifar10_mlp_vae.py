"""The basic fully connected VAE of the 2017 VAE wiki page (Fishest, after kvfran's VAE blog post and
TensorFlow's basic VAE tutorial) on CIFAR-10, in colour or in grayscale.

The page's: the network of experiments/mnist_mlp_vae.py (flattened images through 3 fully connected
layers, the last giving the posterior's mean and scale) trained on CIFAR-10 scaled to [0, 1], once in
colour and once converted to grayscale, with the loss that network uses on MNIST: a Bernoulli
cross-entropy, here on continuous pixels, which is not a likelihood of such data (the page blames
the continuous pixels for the blurry results). The page gives no sizes or schedule. Ours, from the
cited tutorial (the same choices as the MNIST experiment): 3072 (or 1024) -> 500 -> 500 softplus
hidden layers, the decoder their mirror, a log-variance head, Xavier-uniform weights, one posterior
draw, Adam 1e-3 at a constant rate on the per-image mean over batches of 100, no gradient clipping
and no L2. Also ours: z = 100 (the page's first MNIST setting; it does not say which z it used on
CIFAR-10), 50 epochs (the page trains "long epochs", past the ~20 where it saw the loss diverge),
the official training set less its first 5,000 images for validation, and no importance-sampled
NLL (a cross-entropy on continuous pixels is not a likelihood).

Variants "colour" (the default) and "grayscale" (`data.grayscale`: one channel, ITU-R 601-2 luma),
combinable with "smoke" or "cpu" (comma-separated). The CIFAR-10 binary files go in
<data dir>/cifar10/ (docs/data.md):

  dvae train --config experiments/cifar10_mlp_vae.py --workdir runs/cifar10_mlp_vae
  dvae train --config experiments/cifar10_mlp_vae.py:grayscale --workdir runs/cifar10_mlp_vae_gray
  dvae train --config experiments/cifar10_mlp_vae.py:grayscale,smoke --workdir /tmp/smoke   # seconds

What it should reach: the page publishes pictures only, no number: blurry reconstructions in
colour and in grayscale, and training "for more than 20 epochs can result in nan loss" in both.
Here a non-finite loss stops training with the step and metric named, keeping the last finite
checkpoint (docs/reference.md, section 5, shows the message).
"""

from dvae_jax import configs

VARIANTS = {"grayscale": {"colour": False, "grayscale": True}}


def get_config(variant: str | None = None):
  arg = configs.parse_variant(variant, VARIANTS)
  config = configs.presets.textbook_vae(configs.base_config("vae", "mlp"), batch_size=100)
  config.data.name = "cifar10"
  config.data.grayscale = arg.grayscale
  network = config.model.network
  network.fc_sizes = (500, 500)
  network.activation = "softplus"
  network.kernel_init = "xavier_uniform"
  config.model.latent_dim = 100
  config.train.num_epochs = 50
  config.eval.iw_samples = 0
  return configs.apply_variant(config, arg)
