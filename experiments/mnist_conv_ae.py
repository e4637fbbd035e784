"""The convolutional autoencoder of Hands-On Machine Learning (Geron, 3rd ed., ch. 17), on MNIST.

Network `handson_conv`: conv 16/32/64 with 2x2 max-pools, a conv to 30 channels and global average
pooling give a 30-d code; a dense layer and three stride-2 transposed convs decode it, the last one
linear. No corruption, no sparsity. Batch 32 (Keras's default), 10 epochs, Adam 1e-3.

  dvae train --config experiments/mnist_conv_ae.py --workdir runs/mnist_conv_ae
  dvae evaluate --workdir runs/mnist_conv_ae --iw_samples 0

Loss: the original's `loss="mse"` on its linear output (Nadam) is the Gaussian likelihood with unit
std around the decoder's output as it is (`model.gaussian_mean="identity"`: no sigmoid):
-log p(x|code) = SSE / 2 + 784 * log(2 pi) / 2 nats per image, i.e. 392 x the original's per-pixel MSE
plus a constant. Adam's steps do not depend on a constant scale of the loss (up to its eps), so the
original's learning rate carries over; Nadam is Adam here. The book trains on Fashion-MNIST
(`--config.data.name=fashion_mnist`); the autoencoders here are compared on MNIST.
`recon_mse` (sum of squared errors per image, vs the clean image) and `psnr_db` are the readable
numbers; both score the output clipped to [0, 1] (the image one would save), while the loss scores the
unclipped output.

Measured with the earlier config (a sigmoid on the output) by the autoencoders script (since
removed; `experiments/studies/autoencoders.py:cpu_short` reruns it) (a
shared 2-core CPU, MNIST test split), on its short schedule of 2 epochs (1.0 min): 18.58 dB (recon_mse
12.90); the linear output and the 10-epoch schedule were not run here.
"""

from dvae_jax import configs


def get_config(variant: str | None = None):
  config = configs.presets.autoencoder_mnist(
    configs.base_config("ae", "handson_conv"), batch_size=32, num_epochs=10, likelihood="gaussian"
  )
  config.model.gaussian_mean = "identity"  # the original's linear output layer
  return configs.apply_variant(config, variant)
