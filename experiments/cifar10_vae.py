"""The reference VAE on CIFAR-10 (dojoteef/dvae).

CIFAR-10 binary version, /255 floats, no augmentation; convs 3->128->64, FC 4096->512->256,
z = 100; Adam lr 0.001 x0.1 every 200 epochs (floor 1e-5), batch 64, 500 epochs. The files
(`data_batch_*.bin`, `test_batch.bin`) go in <data dir>/cifar10/.

  dvae train --config experiments/cifar10_vae.py --workdir runs/cifar10_vae

Published (500 epochs): test loss 1811.562 / test KLD 35.668 (samples 1); 1787.758 / 24.735 (samples 5).
"""

from dvae_jax import configs


def get_config(variant: str | None = None):
  config = configs.presets.cifar10_reference(configs.base_config("vae"))
  config.published = "dojoteef/dvae"  # dvae evaluate prints the published cell beside ours
  return configs.apply_variant(config, variant)
