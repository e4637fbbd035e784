"""The learnable-loss VAE's 64 x 64 face VAEs without a discriminator: the baselines of
experiments/faces_vae_gan.py (same data, networks and schedule). Variants: "conv" (the default: `face_dcgan`,
512 latents), "conv1024" (1024 latents, lr 2e-4 as its VAE + D run), "deep" (the wider decoder, 1024 latents,
lr 2e-4), "dense" (5 x 1024 dense layers, 512 latents), and "light" for the lighter CPU network; the
original's pipeline, flaws included, with "as_original" (its scrambled image layout and its conv VAEs'
Dense -> BatchNorm -> ReLU posterior head), "original_layout" or "original_head" (one of them alone);
combinable with "smoke" or "cpu".

  dvae train --config experiments/faces_vae.py --workdir runs/faces_vae --config.data.path=/path/to/faces
  dvae train --config experiments/faces_vae.py:dense --workdir runs/faces_dense_vae --config.data.path=/path/to/faces
  dvae train --config experiments/faces_vae.py:as_original --workdir runs/faces_vae_as_original \
    --config.data.path=/path/to/faces
"""

from dvae_jax import configs
from dvae_jax.configs import presets

# The runs of experiments/faces_vae_gan.py that have a VAE-only twin, "light", and the original's flaws.
VARIANTS = {
  "run": {name: presets.FACE_RUNS[name] for name in ("conv", "conv1024", "deep", "dense")},
  "light": False,
  "original": presets.ORIGINAL_PIPELINE,
}


def get_config(variant: str | None = None):
  arg = configs.parse_variant(variant, VARIANTS)
  config = configs.base_config("vae", arg.run.vae_network(light=arg.light))
  config = presets.learnable_loss_face_run(config, run=arg.run, light=arg.light, original=arg.original)
  return configs.apply_variant(config, arg)
