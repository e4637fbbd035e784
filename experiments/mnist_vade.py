"""VaDE (Jiang et al., IJCAI 2017, "Variational Deep Embedding: An Unsupervised and Generative Approach to
Clustering"): a VAE with a learned mixture of 10 Gaussians as its prior, clustering MNIST, started from a
pretrained autoencoder (experiments/mnist_vade_pretrain.py) and a GMM fit of its codes.

The model and training of the authors' code (slim1017/VaDE, VaDE.py; docs/reference.md, "VaDE", has every
choice): 784-500-500-2000-10 encoder and its mirror, ReLU, Glorot-uniform weights, the `vade` family's ELBO
(models/vade.py) with one posterior draw per image; all 70,000 images (train and test files) in batches of
100; Adam 0.002 (epsilon 1e-4) for the networks and the mixture alike, x 0.9 every 10 epochs down to
0.0002; 3,000 epochs. Clusters: argmax_c p(c | posterior mean).

  dvae train --config experiments/mnist_vade_pretrain.py --workdir runs/vade_pretrain
  dvae train --config experiments/mnist_vade.py --workdir runs/vade --config.init_workdir=runs/vade_pretrain
  dvae evaluate --workdir runs/vade     # cluster_accuracy(_all), cluster_nmi(_all), init_* (after the GMM fit)
  dvae figures --workdir runs/vade --which samples   # one row per component, in the order of its matched digit
  dvae study run experiments/studies/vade.py:cpu    # pretraining + VaDE over 3 seeds; results/vade_cpu

Without init_workdir it trains from the random init (the paper's "VaDE w/o pretraining"). Published: 94.46%
one-to-one accuracy on all 70,000 images (the authors' best run); measured at a CPU budget: results/vade_cpu.
"""

from dvae_jax import configs
from dvae_jax.configs import presets


def get_config(variant: str | None = None):
  config = presets.vade_mnist(configs.base_config("vade", "mlp"))
  config.optim.update(learning_rate=0.002, eps=1e-4, schedule="staircase", decay_epochs=10, decay_rate=0.9)
  config.optim.min_learning_rate = 0.0002
  config.train.batch_size = 100
  config.train.num_epochs = 3000
  config.train.checkpoint_every_steps = 7000
  return configs.apply_variant(config, variant)
