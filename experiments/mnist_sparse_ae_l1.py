"""The sparse autoencoder with an L1 activity penalty of Hands-On Machine Learning (Geron, 3rd ed.,
ch. 17), on MNIST.

784-100 (ReLU) - 300 (sigmoid) encoder, 300-100 (ReLU) - 784 decoder; the objective adds
weight * sum_j |code_j| per image. Batch 32 (Keras's default), 10 epochs, Adam 1e-3.

  dvae train --config experiments/mnist_sparse_ae_l1.py --workdir runs/mnist_sparse_ae_l1
  dvae evaluate --workdir runs/mnist_sparse_ae_l1 --iw_samples 0

Loss: the original's `loss="mse"` plus `ActivityRegularization(l1=1e-4)` (which tf.keras divides by the
batch size: 1e-4 * sum_j |code_j| per image, averaged). Here the reconstruction term is the unit-std
Gaussian likelihood, SSE / 2 + a constant per image, i.e. 392 x the original's per-pixel MSE, so the
penalty's weight is 392 x 1e-4 = 0.0392 to keep the original's balance between the two (with Adam, only
that balance matters, not the loss's overall scale). `code_mean_activation` (mean over the 300 units
and the images) and `code_active_fraction` (units above 0.1) measure the sparsity reached.

Measured by `scripts/reproduce_autoencoders.sh` (a shared 2-core CPU, MNIST test split), 10 epochs
(0.7 min): 23.00 dB (recon_mse 4.66); code mean activation 0.047, 15% of the units above 0.1
(penalty 0.55 nats per image).
"""

from dvae_jax import configs

L1_WEIGHT = 392 * 1e-4  # the original's l1=1e-4 on a per-pixel MSE; ours is SSE / 2 per image


def get_config(variant: str | None = None):
  config = configs.presets.autoencoder_mnist(
    configs.base_config("ae", "mlp"), batch_size=32, num_epochs=10, likelihood="gaussian"
  )
  config.model.network.update(fc_sizes=(100, 300), decoder_fc_sizes=(100,), code_activation="sigmoid")
  config.model.sparsity.update(name="l1", weight=L1_WEIGHT)
  return configs.apply_variant(config, variant)
