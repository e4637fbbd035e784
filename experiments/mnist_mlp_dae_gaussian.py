"""The fully connected denoising autoencoder of Hands-On Machine Learning (Geron, 3rd ed., ch. 17),
Gaussian-noise version, on MNIST.

784-100-30 encoder (ReLU on both layers, the code included), 30-100-784 decoder with a linear output
layer; the encoder sees x + 0.2 * N(0, 1), unclipped (Keras's `GaussianNoise(0.2)`, the book's
alternative to input dropout), and the target is the clean x. Batch 32 (Keras's default), 10 epochs,
Adam 1e-3.

  dvae train --config experiments/mnist_mlp_dae_gaussian.py --workdir runs/mnist_mlp_dae_gaussian
  dvae evaluate --workdir runs/mnist_mlp_dae_gaussian --iw_samples 0

Loss: the original's `loss="mse"` on its linear output (per-pixel mean, Nadam) is the Gaussian
likelihood with unit std around the decoder's output as it is (`model.gaussian_mean="identity"`: no
sigmoid): SSE / 2 + a constant per image, 392 x the original's MSE; Adam's steps do not depend on a
constant scale of the loss, so the original's learning rate carries over. `recon_mse` and `psnr_db`
score the output clipped to [0, 1] (the image one would save); the loss scores it unclipped. Keras adds
the noise in training only; here the corrupted input is also what validation and `dvae evaluate`
measure (the denoising task): `psnr_db` (output vs clean) against `noisy_psnr_db` (input vs clean).

It should show `psnr_db` well above `noisy_psnr_db`. Measured with the earlier config (a sigmoid on the
output) by the autoencoders script (since removed; `experiments/studies/autoencoders.py:cpu_short`
reruns it) (a shared 2-core CPU, MNIST test split), 10 epochs
(0.8 min): output 20.24 dB (recon_mse 8.40) vs noisy input 13.98 dB.
"""

from dvae_jax import configs


def get_config(variant: str | None = None):
  config = configs.presets.autoencoder_mnist(
    configs.base_config("ae", "mlp"), batch_size=32, num_epochs=10, likelihood="gaussian"
  )
  config.model.gaussian_mean = "identity"  # the original's linear output layer
  config.model.network.update(fc_sizes=(100, 30), decoder_fc_sizes=(100,), activation="relu")
  config.model.corruption.update(name="gaussian", std=0.2, clip=False)
  return configs.apply_variant(config, variant)
