"""The learnable-loss VAE's MNIST runs at full length beside the original's own per-epoch training
records (xuganyu96/VAE-GAN-learnable-loss): its dense VAE with BCE and with L2 pixel loss
(experiments/mnist_dense_vae.py) and its dense VAE + dense discriminator with BCE
(experiments/mnist_vae_gan.py), the three MNIST runs whose folders record a training loss, 3 seeds each.

  dvae study run experiments/studies/learnable_loss_records.py --jobs 2
  dvae study report experiments/studies/learnable_loss_records.py --out results/learnable_loss_records
  dvae study run experiments/studies/learnable_loss_records.py:smoke       # seconds: the pipeline end to end
  dvae study report experiments/studies/learnable_loss_records.py:smoke --out results/learnable_loss_records_smoke

The original's records are data, in records/xuganyu96_learnable_loss_mnist.json (each run's folder,
commit and training script). Each run's training script wrote, per epoch, the mean over the epoch's
batches of the batch's mean per-image loss, in training mode; dvae-jax logs the same quantity as the
training objective (`objective_nats`; for the VAE + D, the VAE's loss `vae_loss` and the
discriminator's `disc_loss`), and the report puts its mean over the epoch's steps beside the record.

Whether the L2 run's record (one run of the original) lies inside dvae-jax's spread over seeds needs
more seeds than three: the group dense_vae_l2_more_seeds trains 10 more seeds to epoch 11, the L2
run's first recorded epoch (with a constant learning rate, a run's first 11 epochs do not depend on
its length), and the report lists every seed's loss and KL (how much of its latent each seed uses).
The seeds fall into two groups by that KL; the original's own code, run over seeds by
scripts/original_dense_vae_seeds.py (results/learnable_loss_original_code), falls into the same two, and
its record into one of them: the L2 gap is seed noise.

Variants:
  (none)  the original's length: 50 epochs a run, and the 10 extra L2 seeds 11 epochs each: 19 runs,
          about 4 hours of one run at a time on 2 CPU cores shared with other work (the report's
          wall times: 13-27 min a dense VAE run, 22-38 min a VAE + D run, 4 min an extra seed).
  smoke   2 epochs on 640 training images, one seed a group, the extra L2 group 2 seeds: the
          pipeline end to end in seconds (tests).
"""

import json
import math
import pathlib

from dvae_jax.study import Curve, Group, Metric, Study, Table
from dvae_jax.study.spec import parse_variant

RECORDS = json.loads((pathlib.Path(__file__).parent / "records" / "xuganyu96_learnable_loss_mnist.json").read_text())
ORIGINAL = "xuganyu96's record"
# dvae-jax's L2 pixel loss is a Gaussian likelihood of variance 1/2: -log p(x|z) = sum of squared errors
# + 784 log(pi) / 2. The original's L2 loss is the sum of squared errors alone.
L2_CONSTANT = 784 * math.log(math.pi) / 2
VARIANTS = {"smoke": False}


def _record(run: str, key: str = "training_loss") -> dict[int, float]:
  return {int(epoch): value for epoch, value in RECORDS["runs"][run][key].items()}


def get_study(variant: str | None = None) -> Study:
  arg = parse_variant(variant, VARIANTS)
  epochs, extra_epochs, seeds, extra_seeds = (2, 2, (0,), (3, 4)) if arg.smoke else (50, 11, (0, 1, 2), range(3, 13))
  common = {"train.progress_bar": False, "train.num_epochs": epochs}
  if arg.smoke:
    common |= {"data.train_limit": 640, "data.eval_limit": 256}
  groups = {  # the longest runs first: `dvae study run --jobs 2` then ends sooner
    "vae_gan_bce": Group("mnist_vae_gan:bce", common),
    "dense_vae_l2": Group("mnist_dense_vae:l2", common),
    "dense_vae_bce": Group("mnist_dense_vae:bce", common),
    "dense_vae_l2_more_seeds": Group(
      "mnist_dense_vae:l2", {**common, "train.num_epochs": extra_epochs}, seeds=tuple(extra_seeds)
    ),
  }
  curves = [
    Curve(
      "objective_nats",
      ["dense_vae_bce"],
      "Dense VAE, BCE: training loss per epoch",
      "training loss (KL + BCE), nats per image",
      reference={"dense_vae_bce": _record("dense_vae_bce")},
      reference_label=ORIGINAL,
    ),
    Curve(
      "objective_nats",
      ["dense_vae_l2", "dense_vae_l2_more_seeds"],
      "Dense VAE, L2: training loss per epoch",
      "training loss (KL + sum of squared errors), per image",
      reference={name: _record("dense_vae_l2") for name in ("dense_vae_l2", "dense_vae_l2_more_seeds")},
      reference_label=ORIGINAL,
      offset=L2_CONSTANT,
      seed_epochs=(11, 21, 31, 41),
    ),
    Curve(  # with the loss's per-seed values: whether the seeds differ by how much of the latent they use
      "kl_nats",
      ["dense_vae_l2", "dense_vae_l2_more_seeds"],
      "Dense VAE, L2: KL per epoch",
      "KL(q(z|x) || p(z)), nats per image",
      seed_epochs=(11, 21, 31, 41),
    ),
    Curve(
      "vae_loss",
      ["vae_gan_bce"],
      "Dense VAE + dense discriminator, BCE: the VAE's training loss per epoch",
      "the VAE's training loss (KL + BCE + adversarial), nats per image",
      reference={"vae_gan_bce": _record("vae_gan_bce")},
      reference_label=ORIGINAL,
    ),
    Curve(
      "disc_loss",
      ["vae_gan_bce"],
      "Dense VAE + dense discriminator, BCE: the discriminator's training loss per epoch",
      "the discriminator's training loss (BCE real + BCE generated), per image",
      reference={"vae_gan_bce": _record("vae_gan_bce", "discriminator_training_loss")},
      reference_label=ORIGINAL,
    ),
  ]
  tables = [
    Table(
      metrics=[Metric("objective_nats", "training objective, nats"), Metric("kl_nats", "KLD, nats"), "recon_nats"],
      title="Test split after training",
      groups=list(groups),
    )
  ]
  length = (
    "**Smoke setting**: 2 epochs on 640 training images; not comparable with the records."
    if arg.smoke
    else f"{epochs} epochs a run (the original's length), the extra L2 seeds {extra_epochs} epochs each"
  )
  return Study(
    name="learnable_loss_records_smoke" if arg.smoke else "learnable_loss_records",
    groups=groups,
    seeds=seeds,
    overrides={"eval.iw_samples": 0},
    tables=tables,
    curves=curves,
    description=(
      "The learnable-loss VAE's dense VAE (z = 5, 3 x 400 ReLU, Xavier-uniform init; MNIST in [0, 1], all 60,000 "
      "training images, batches of 64, Adam 1e-3 at a constant rate) with BCE or L2 pixel loss, and with its dense "
      "discriminator trained alternately (the discriminator's step first), beside the per-epoch training loss that "
      "xuganyu96/VAE-GAN-learnable-loss's own run folders record (experiments/studies/records/"
      "xuganyu96_learnable_loss_mnist.json names each record's file and commit; its epochs, printed from 0, are "
      "counted here from 1). The training loss of an epoch is the mean of the per-image loss over its batches, in "
      "training mode, for the original and dvae-jax alike (dvae-jax drops the last partial batch of 32; the "
      f"original keeps it). The L2 runs' losses are shown less {L2_CONSTANT:.2f} = 784 log(pi) / 2, the constant of "
      "dvae-jax's Gaussian likelihood of variance 1/2, which the original's sum of squared errors does not carry. "
      "The L2 seeds fall into two groups by their KL (how much of the 5-d latent they use); the original's own code, "
      "run over seeds by scripts/original_dense_vae_seeds.py, falls into the same two groups, and its single record "
      "into one of them ([results/learnable_loss_original_code](../learnable_loss_original_code/README.md)). "
      f"{length}."
    ),
  )
