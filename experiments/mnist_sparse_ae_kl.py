"""The sparse autoencoder with a KL sparsity penalty of Hands-On Machine Learning (Geron, 3rd ed.,
ch. 17), on MNIST.

784-100 (ReLU) - 300 (sigmoid) encoder, 300-100 (ReLU) - 784 decoder; the objective adds
weight * sum_j KL(p || rho_j), rho_j the mean activation of code unit j over the batch, with target
p = 0.1. Batch 32 (Keras's default), 10 epochs, Adam 1e-3.

  dvae train --config experiments/mnist_sparse_ae_kl.py --workdir runs/mnist_sparse_ae_kl
  dvae evaluate --workdir runs/mnist_sparse_ae_kl --iw_samples 0

Loss: the original's `loss="mse"` plus `KLDivergenceRegularizer(weight=5e-3, target=0.1)` as an activity
regularizer, which tf.keras divides by the batch size (32), although the KL is already a batch
quantity: 5e-3 / 32 x KL per image on top of the per-pixel MSE. Here the reconstruction term is the
unit-std Gaussian likelihood, SSE / 2 + a constant per image (392 x the original's MSE), so the weight is
392 x 5e-3 / 32 = 0.06125, the same balance. `code_mean_activation` should approach the target 0.1.

Measured by `scripts/reproduce_autoencoders.sh` (a shared 2-core CPU, MNIST test split), 10 epochs
(0.7 min): 24.18 dB (recon_mse 3.57); code mean activation 0.112 against the target 0.1, 38% of the
units above 0.1 (penalty 0.055 nats per image).
"""

from dvae_jax import configs

KL_WEIGHT = 392 * 5e-3 / 32  # the original's weight on a per-pixel MSE, after tf.keras's division by the batch size


def get_config(variant: str | None = None):
  config = configs.presets.autoencoder_mnist(
    configs.base_config("ae", "mlp"), batch_size=32, num_epochs=10, likelihood="gaussian"
  )
  config.model.network.update(fc_sizes=(100, 300), decoder_fc_sizes=(100,), code_activation="sigmoid")
  config.model.sparsity.update(name="kl", weight=KL_WEIGHT, target=0.1)
  return configs.apply_variant(config, variant)
