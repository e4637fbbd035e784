"""The convolutional denoising autoencoder of arunarn2/AutoEncoder, on MNIST.

Network `arunarn2_conv`: three 5x5 convs of 64 channels (LeakyReLU) with two 2x2 max-pools to a
7x7x64 code; a conv, two stride-2 transposed convs and a last conv back to 28x28. The encoder sees
x + 0.5 * N(0, 1) clipped to [0, 1]; the target is the clean x. Batch 64, 25 epochs, Adam 1e-5 (the
original's rate); validation is the first 5000 training images (TF's `input_data` split, 55000 for
training).

  dvae train --config experiments/mnist_conv_dae.py --workdir runs/mnist_conv_dae
  dvae evaluate --workdir runs/mnist_conv_dae --iw_samples 0

Variants (`experiments/mnist_conv_dae.py:VARIANT`, comma-separated):
  (none)      the original's setting, Adam 1e-5 for 25 epochs of 55000 images (a GPU job).
  fast        Adam 1e-3 instead: not the original's rate, but learning shows within a few CPU minutes
              (the short schedule of the autoencoders script (since removed;
              `experiments/studies/autoencoders.py:cpu_short` reruns it) and of the autoencoders
              study).
  smoke, cpu  the generic variants (configs/variants.py), alone or after `fast` ("fast,smoke"); smoke
              trains at 1e-3 as every smoke run does.

Loss: the original minimizes the mean sigmoid cross-entropy over pixels and images; here it is summed
over the 784 pixels of each image (nats) and averaged over the batch, 784 x the original's. Adam's steps
do not depend on a constant scale of the loss (up to its eps), so the original's learning rate carries
over unchanged.

It should show outputs closer to the clean image than the noisy input is (`psnr_db` above
`noisy_psnr_db`); the original reports no number. Measured by the autoencoders script (since
removed; `experiments/studies/autoencoders.py:cpu_short` reruns it) (a
shared 2-core CPU, MNIST test split) at the `fast` rate, on its short schedule of 1 epoch on the first
3200 training images (0.9 min), tested on the first 500 images: output 13.45 dB (recon_mse 36.99) vs
noisy input 9.37 dB. The original's rate and full schedule were not run here.
"""

from dvae_jax import configs

VARIANTS = {"fast": False}
LEARNING_RATE = 1e-5  # the original's Adam rate
FAST_LEARNING_RATE = 1e-3  # variant "fast"


def get_config(variant: str | None = None):
  arg = configs.parse_variant(variant, VARIANTS)
  config = configs.presets.autoencoder_mnist(
    configs.base_config("ae", "arunarn2_conv"), batch_size=64, num_epochs=25, likelihood="bernoulli"
  )
  config.optim.learning_rate = FAST_LEARNING_RATE if arg.fast else LEARNING_RATE
  config.data.validation_fraction = 5000 / 60000
  config.model.corruption.update(name="gaussian", std=0.5, clip=True)
  return configs.apply_variant(config, arg)
