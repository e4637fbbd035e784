"""The fully connected denoising autoencoder of Hands-On Machine Learning (Geron, 3rd ed., ch. 17),
dropout version, on MNIST.

784-100-30 encoder (ReLU on both layers, the code included), 30-100-784 decoder with a linear output
layer; the encoder sees the input after Keras-style dropout at rate 0.5 (each pixel zeroed with
probability 0.5, the others doubled: corruption "dropout"), and the target is the clean x. Batch 32
(Keras's default), 10 epochs, Adam 1e-3.

  dvae train --config experiments/mnist_mlp_dae_dropout.py --workdir runs/mnist_mlp_dae_dropout
  dvae evaluate --workdir runs/mnist_mlp_dae_dropout --iw_samples 0

Loss: as in mnist_mlp_dae_gaussian.py (the original's MSE on a linear output is the unit-std Gaussian
likelihood around the decoder's output as it is, `model.gaussian_mean="identity"`; `recon_mse` and
`psnr_db` score that output clipped to [0, 1]). Keras drops inputs in training only; here validation
and `dvae evaluate` also measure outputs from dropped-out inputs (the book's figure does the same), so
`noisy_psnr_db` is the PSNR of that input, doubled pixels included, against the clean image.

It should show `psnr_db` well above `noisy_psnr_db`. Measured with the earlier config (a sigmoid on the
output) by the autoencoders script (since removed; `experiments/studies/autoencoders.py:cpu_short`
reruns it) (a shared 2-core CPU, MNIST test split), 10 epochs
(0.7 min): output 18.87 dB (recon_mse 11.39) vs dropped-out input 9.73 dB.
"""

from dvae_jax import configs


def get_config(variant: str | None = None):
  config = configs.presets.autoencoder_mnist(
    configs.base_config("ae", "mlp"), batch_size=32, num_epochs=10, likelihood="gaussian"
  )
  config.model.gaussian_mean = "identity"  # the original's linear output layer
  config.model.network.update(fc_sizes=(100, 30), decoder_fc_sizes=(100,), activation="relu")
  config.model.corruption.update(name="dropout", rate=0.5)
  return configs.apply_variant(config, variant)
