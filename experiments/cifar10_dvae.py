"""The reference denoising VAE on CIFAR-10 (dojoteef/dvae).

CIFAR-10 binary version, /255 floats, no augmentation; convs 3->128->64, FC 4096->512->256,
z = 100; the DAE as in experiments/mnist_dvae.py; Adam lr 0.001 x0.1 every 200 epochs (floor 1e-5),
batch 64, 500 epochs. The files
(`data_batch_*.bin`, `test_batch.bin`) go in <data dir>/cifar10/.

  dvae train --config experiments/cifar10_dvae.py --workdir runs/cifar10_dvae

Published (500 epochs): test loss 1790.816 / test KLD 52.144 (samples 1); 1783.657 / 35.619 (samples 5).
"""

from dvae_jax import configs


def get_config(variant: str | None = None):
  config = configs.presets.cifar10_reference(configs.base_config("dvae"))
  config.published = "dojoteef/dvae"  # dvae evaluate prints the published cell beside ours
  return configs.apply_variant(config, variant)
