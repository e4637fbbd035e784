"""The training-scheme sweeps of xuganyu96/VAE-GAN-learnable-loss on its 64 x 64 faces: the discriminator loss
weight (w_disc 1, 10, 20, 50), the pixel-by-pixel loss weight (w_pbp 0.5, 0.8, 1, 1.2, and w_pbp 1 decayed
x0.95 or x0.9 every 25 combo epochs), and VAE-only "solo" epochs before the "combo" ones (0, 50, 100, 150
of 200), each against the same baseline: the conv VAE with 512 latents and 32 base channels, BCE pixel
loss, the ResNet-18 discriminator, w_disc 10, w_pbp 1, Adam 1e-3, batch 64, 200 epochs, the players
updated alternately (experiments/faces_vae_gan.py:resnet). The original shows one run of each as image grids, and
the wall times of the solo/combo runs (6783, 5515, 4326 and 3121 s for 0, 50, 100 and 150 solo epochs); each
run here records its own time per epoch in metrics.jsonl (`epoch_seconds`).

The runs read the face folder at runs/faces (relative to the directory the study is run from): link your
copy of the anime faces (or CelebA's img_align_celeba/) there first:

  ln -s /path/to/anime_faces runs/faces
  dvae study run experiments/studies/learnable_loss_sweeps.py          # 12 runs of 200 epochs: for an accelerator
  dvae study report experiments/studies/learnable_loss_sweeps.py --out results/learnable_loss_sweeps
  dvae study run experiments/studies/learnable_loss_sweeps.py:light    # 10 runs of 2 epochs, lighter networks
  dvae study report experiments/studies/learnable_loss_sweeps.py:light --out results/learnable_loss_sweeps_light
  dvae study run experiments/studies/learnable_loss_sweeps.py:smoke    # 3 tiny runs (seconds each)
  dvae study report experiments/studies/learnable_loss_sweeps.py:smoke --out results/learnable_loss_sweeps_smoke

Variants:
  (none)  the original's runs, one seed each (as the original ran them).
  light   the same sweeps on the lighter CPU networks (faces_vae_gan.py:resnet,light), 2 epochs a run, the
          solo epochs scaled to 0 / 1 of 2: a **shortened schedule** that checks the sweep, not the result.
  smoke   tiny networks, 2 epochs on the folder's images at 16 x 16, the baseline and one value of two knobs
          (w_disc, solo epochs): what the tests run.
"""

import dataclasses
from collections.abc import Mapping
from typing import Any

from dvae_jax.study import Group, Metric, Study, Table
from dvae_jax.study.spec import parse_variant

ORIGINAL_EPOCHS = 200  # experiments/faces_vae_gan.py's
FACE_FOLDER = "runs/faces"
FACE_CACHE = "runs/image_folder_cache"

# knob -> {group suffix: overrides}; the baseline (w_disc 10, w_pbp 1, no decay, no solo epochs) is its own group.
SWEEPS = {
  "disc_weight": {f"disc_weight_{w}": {"model.disc_weight": float(w)} for w in (1, 20, 50)},
  "pbp_weight": {f"pbp_weight_{w}": {"model.pbp_weight": w} for w in (0.5, 0.8, 1.2)},
  "pbp_decay": {f"pbp_decay_{d}": {"model.pbp_decay": d, "model.pbp_decay_epochs": 25} for d in (0.95, 0.9)},
  "solo_epochs": {f"solo_{n}": {"model.solo_epochs": n} for n in (50, 100, 150)},
}
SMOKE_SWEEPS = {  # two knobs, one value each: what the tests train
  "disc_weight": {"disc_weight_50": {"model.disc_weight": 50.0}},
  "solo_epochs": {"solo_1": {"model.solo_epochs": 1}},
}


@dataclasses.dataclass(frozen=True)
class Setting:
  """A variant: the experiment of every group, its epochs, its overrides beyond the common ones, its sweeps."""

  experiment: str
  epochs: int | None  # None: the experiment's own (ORIGINAL_EPOCHS)
  sweeps: Mapping[str, Mapping[str, Mapping[str, Any]]]
  overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)


SETTINGS = {
  None: Setting("faces_vae_gan:resnet", None, SWEEPS),
  # The solo epochs scaled to the 2-epoch schedule.
  "light": Setting("faces_vae_gan:resnet,light", 2, {**SWEEPS, "solo_epochs": {"solo_1": {"model.solo_epochs": 1}}}),
  "smoke": Setting(
    "faces_vae_gan:resnet,smoke",
    2,
    SMOKE_SWEEPS,
    {"data.image_size": 16, "train.batch_size": 8, "train.eval_batch_size": 8, "train.grid_images": 4},
  ),
}
VARIANTS = {"setting": tuple(SETTINGS)}  # None (the original's runs), "light", "smoke"

QUALITY = [
  Metric("recon_nats", "pixel loss (BCE), nats"),
  Metric("recon_psnr_db", "PSNR, dB"),
  Metric("recon_ssim", "SSIM"),
  Metric("recon_sharpness", "sharpness, reconstructions"),
  Metric("test_sharpness", "sharpness, test images"),
]


def get_study(variant: str | None = None) -> Study:
  arg = parse_variant(variant, VARIANTS)
  setting = SETTINGS[arg.setting]
  epochs = setting.epochs or ORIGINAL_EPOCHS
  common = {"train.progress_bar": False, "data.path": FACE_FOLDER, "data.cache_dir": FACE_CACHE}
  if setting.epochs is not None:
    common["train.num_epochs"] = setting.epochs
  common.update(setting.overrides)
  groups = {"baseline": Group(setting.experiment, common)}
  tables = []
  for knob, runs in setting.sweeps.items():
    for suffix, overrides in runs.items():
      groups[suffix] = Group(setting.experiment, {**common, **overrides})
    tables.append(
      Table(
        metrics=QUALITY,
        comparisons=[f"{suffix} - baseline" for suffix in runs],
        title=f"{knob}: the baseline (w_disc 10, w_pbp 1, no decay, no solo epochs) and each value",
        groups=["baseline", *runs],
      )
    )
  budget = (
    f"{epochs} epochs a run"
    + (
      " (the original's length)" if epochs == ORIGINAL_EPOCHS else " (**shortened schedule**: the original trains 200)"
    )
    + f", the face folder at {FACE_FOLDER}, one seed per run as in the original."
  )
  return Study(
    name="learnable_loss_sweeps" if arg.setting is None else f"learnable_loss_sweeps_{arg.setting}",
    groups=groups,
    seeds=(0,),
    overrides={"eval.iw_samples": 0},
    tables=tables,
    description="The learnable-loss VAE's training-scheme sweeps on 64 x 64 faces: w_disc, w_pbp (constant or "
    "decayed) and solo epochs, each against the baseline (conv VAE 512 latents, ResNet-18 discriminator, w_disc 10, "
    "w_pbp 1). Test split: pixel loss, PSNR, SSIM, sharpness of the reconstructions and of the test images. " + budget,
  )
