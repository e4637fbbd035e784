"""The sparse autoencoder with a KL sparsity penalty of Hands-On Machine Learning (Geron, 3rd ed.,
ch. 17), on MNIST.

784-100 (ReLU) - 300 (sigmoid) encoder, 300-100 (ReLU) - 784 (linear) decoder; the objective adds
weight * sum_j KL(p || rho_j), rho_j the mean activation of code unit j over the batch, with target
p = 0.1. Batch 32 (Keras's default), 10 epochs, Adam 1e-3.

  dvae train --config experiments/mnist_sparse_ae_kl.py --workdir runs/mnist_sparse_ae_kl
  dvae evaluate --workdir runs/mnist_sparse_ae_kl --iw_samples 0

Loss: the original's `loss="mse"` on its linear output plus `KLDivergenceRegularizer(weight=5e-3,
target=0.1)` as the code's activity regularizer, which tf.keras divides by the batch size B = 32
although the KL is already a batch quantity. Per batch, Keras minimizes

  1/B sum_i SSE_i / 784  +  5e-3 / B * sum_j KL(0.1 || rho_j)

Here the reconstruction term is the unit-std Gaussian likelihood around the decoder's output as it is
(`model.gaussian_mean="identity"`: no sigmoid), summed over pixels: SSE_i / 2 + a constant per image,
averaged over the batch, i.e. 392 x the original's MSE plus a constant; the penalty w * KL is added
once per batch (to every image's objective, then averaged). The objective is then
392 x (1/B sum_i SSE_i / 784 + (w / 392) KL) + a constant, so the original's balance needs
w / 392 = 5e-3 / 32: w = 392 x 5e-3 / 32 = 0.06125 (with another `train.batch_size` B, 392 x 5e-3 / B).
Adam's steps do not depend on the loss's overall scale, up to its eps; only that balance matters. The
linear output leaves the reconstruction term's scale as it was with a sigmoid, so the weight is
unchanged by it. `recon_mse` and `psnr_db` score the output clipped to [0, 1];
`code_mean_activation` should approach the target 0.1.

Measured with the earlier config (a sigmoid on the output) by the autoencoders script (since
removed; `experiments/studies/autoencoders.py:cpu_short` reruns it) (a
shared 2-core CPU, MNIST test split), 10 epochs (0.7 min): 24.18 dB (recon_mse 3.57); code mean
activation 0.112 against the target 0.1, 38% of the units above 0.1 (penalty 0.055 nats per image).
"""

from dvae_jax import configs

# The original's weight 5e-3 on a per-pixel mean of squared errors, after tf.keras's division by the
# batch size 32; the reconstruction term here is SSE / 2 per image, 784 / 2 = 392 times that mean.
KL_WEIGHT = 392 * 5e-3 / 32


def get_config(variant: str | None = None):
  config = configs.presets.autoencoder_mnist(
    configs.base_config("ae", "mlp"), batch_size=32, num_epochs=10, likelihood="gaussian"
  )
  config.model.gaussian_mean = "identity"  # the original's linear output layer
  config.model.network.update(fc_sizes=(100, 300), decoder_fc_sizes=(100,), code_activation="sigmoid")
  config.model.sparsity.update(name="kl", weight=KL_WEIGHT, target=0.1)
  return configs.apply_variant(config, variant)
