"""Im et al. 2017's denoising VAE against the plain VAE with the same network, data and budget, in nats
of test NLL over seeds (experiments/mnist_binarized_denoising_vae.py and mnist_binarized_mlp_vae.py,
dynamically binarized MNIST; the NLL importance-weighted from q(z|x) of the clean test image).

The runs of the single-seed script that made results/denoising_vae_nll (since removed), its knobs as the variants:

  dvae study run experiments/studies/denoising_vae_nll.py:cpu3          # 6 runs, ~3-4 min each on 2 CPU cores
  dvae study report experiments/studies/denoising_vae_nll.py:cpu3 --out results/denoising_vae_nll_cpu3
  dvae study run experiments/studies/denoising_vae_nll.py:cpu_2epochs   # 4 runs: results/denoising_vae_nll's
  dvae study report experiments/studies/denoising_vae_nll.py:cpu_2epochs --out results/denoising_vae_nll_cpu_2epochs
  dvae study run experiments/studies/denoising_vae_nll.py               # the authors' schedule, k = 5000 (GPU)
  dvae study report experiments/studies/denoising_vae_nll.py --out results/denoising_vae_nll

Variants (times per run on 2 CPU cores are estimates, from results/denoising_vae_nll's 2.3-3.6 min of
training and 0.5-0.9 min of evaluation on shared cores):
  (none)       the authors' schedule: 200 epochs at lr 1e-4 on all 54,000 training images, the NLL with
               k = 5000 on all 10,000 test images (on 2 CPU cores about 4-6 hours of training a model).
  cpu_2epochs  results/denoising_vae_nll's setting (`--epochs 2 --lr 1e-3 --iw-samples 500 --iw-limit 1000`)
               with its two seeds, 0 and 1: 2 epochs at lr 1e-3, NLL k = 500 on 1,000 test images.
  cpu3         the same short setting with seeds 0, 1 and 2: about 20-25 minutes in all. Each run takes
               longer than the other studies' cpu3 runs (2 full epochs of 54,000 images, K = 10 draws).
"""

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from dvae_jax.study import Group, Metric, Study, Table
from dvae_jax.study.spec import parse_variant


@dataclasses.dataclass(frozen=True)
class Setting:
  """A variant's budget (the script's flags): config overrides beyond train.progress_bar (the evaluation's among
  them), the seeds."""

  overrides: Mapping[str, Any]
  seeds: Sequence[int]


SHORT = {"train.num_epochs": 2, "optim.learning_rate": 1e-3, "eval.iw_samples": 500, "eval.iw_limit": 1000}
SETTINGS = {
  None: Setting({"eval.iw_samples": 5000}, (0, 1, 2)),
  "cpu_2epochs": Setting(SHORT, (0, 1)),
  "cpu3": Setting(SHORT, (0, 1, 2)),
}
VARIANTS = {"setting": tuple(SETTINGS)}  # None (the authors' schedule), "cpu_2epochs", "cpu3"

FULL = (
  "The authors' schedule: 200 epochs at lr 1e-4 on all 54,000 training images; test bound on all 10,000 test "
  "images, the NLL with k = 5000 importance samples on all of them."
)
SHORTENED = (
  "**Shortened schedule, not a full-length reproduction:** 2 of the authors' 200 epochs, at lr 1e-3 instead of "
  "1e-4, on all 54,000 training images; test bound on all 10,000 test images, the NLL with k = 500 on the first "
  "1,000. A short schedule is far from converged: compare the two models, not with the literature."
)


def get_study(variant: str | None = None) -> Study:
  arg = parse_variant(variant, VARIANTS)
  setting = SETTINGS[arg.setting]
  overrides = {"train.progress_bar": False, **setting.overrides}
  return Study(
    name="denoising_vae_nll" if arg.setting is None else f"denoising_vae_nll_{arg.setting}",
    groups={
      "denoising_vae": Group("mnist_binarized_denoising_vae", overrides),
      "vae": Group("mnist_binarized_mlp_vae", overrides),
    },
    seeds=setting.seeds,
    tables=[
      Table(
        metrics=[
          Metric("iw_nll_nats", "test NLL (importance-weighted), nats"),
          Metric("output_neg_elbo_nats", "test bound (what each was trained on), nats"),
          Metric("recon_nats", "reconstruction, nats"),
          Metric("kl_nats", "KL, nats"),
        ],
        comparisons=["denoising_vae - vae"],
        title="Denoising VAE (Gaussian input noise 0.025) vs VAE: test NLL on dynamically binarized MNIST",
      )
    ],
    description="Im et al.'s input-corruption denoising VAE (AAAI 2017) against the plain VAE: the same network "
    "(MLP 512-512, batch norm, LeakyReLU, z = 128), data, K = 10 posterior draws and budget; the NLL is "
    "importance-weighted from q(z|x) of the clean test image (the same generative model for both). The bound is "
    "the K-draw -ELBO for the VAE and the denoising bound (encoder on a corrupted image) for the denoising VAE. "
    + (FULL if arg.setting is None else SHORTENED),
  )
