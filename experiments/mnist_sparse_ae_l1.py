"""The sparse autoencoder with an L1 activity penalty of Hands-On Machine Learning (Geron, 3rd ed.,
ch. 17), on MNIST.

784-100 (ReLU) - 300 (sigmoid) encoder, 300-100 (ReLU) - 784 (linear) decoder; the objective adds
weight * sum_j |code_j| per image. Batch 32 (Keras's default), 10 epochs, Adam 1e-3.

  dvae train --config experiments/mnist_sparse_ae_l1.py --workdir runs/mnist_sparse_ae_l1
  dvae evaluate --workdir runs/mnist_sparse_ae_l1 --iw_samples 0

Loss: the original's `loss="mse"` on its linear output plus `ActivityRegularization(l1=1e-4)` on the
code. Per batch of B images, Keras minimizes

  1/B sum_i SSE_i / 784  +  1e-4 * 1/B sum_i sum_j |code_ij|

(the MSE is a mean over the 784 pixels; tf.keras divides an activity penalty by the batch size). Here
the reconstruction term is the unit-std Gaussian likelihood around the decoder's output as it is
(`model.gaussian_mean="identity"`: no sigmoid), summed over pixels: SSE_i / 2 + 392 log(2 pi) per
image, averaged over the batch, i.e. 392 x the original's MSE plus a constant. With weight w the
objective is 392 x (1/B sum_i [SSE_i / 784 + (w / 392) sum_j |code_ij|]) + a constant, so the
original's balance between the two terms needs w / 392 = 1e-4: w = 392 x 1e-4 = 0.0392. (Adam's steps
do not depend on the loss's overall scale, up to its eps; only that balance matters.) The linear output
leaves the reconstruction term's scale as it was with a sigmoid, so the weight is unchanged by it.
`recon_mse` and `psnr_db` score the output clipped to [0, 1]; `code_mean_activation` (mean over the
300 units and the images) and `code_active_fraction` (units above 0.1) measure the sparsity reached.

Measured with the earlier config (a sigmoid on the output) by the autoencoders script (since
removed; `experiments/studies/autoencoders.py:cpu_short` reruns it) (a
shared 2-core CPU, MNIST test split), 10 epochs (0.7 min): 23.00 dB (recon_mse 4.66); code mean
activation 0.047, 15% of the units above 0.1 (penalty 0.55 nats per image).
"""

from dvae_jax import configs

# The original's l1 = 1e-4 on a per-pixel mean of squared errors; the reconstruction term here is
# SSE / 2 per image, 784 / 2 = 392 times that mean.
L1_WEIGHT = 392 * 1e-4


def get_config(variant: str | None = None):
  config = configs.presets.autoencoder_mnist(
    configs.base_config("ae", "mlp"), batch_size=32, num_epochs=10, likelihood="gaussian"
  )
  config.model.gaussian_mean = "identity"  # the original's linear output layer
  config.model.network.update(fc_sizes=(100, 300), decoder_fc_sizes=(100,), code_activation="sigmoid")
  config.model.sparsity.update(name="l1", weight=L1_WEIGHT)
  return configs.apply_variant(config, variant)
