"""The autoencoders of arunarn2/AutoEncoder and Hands-On ML (Geron's autoencoder chapter) on real MNIST
over seeds: experiments/mnist_{conv_dae,mlp_dae_gaussian,mlp_dae_dropout,conv_ae,sparse_ae_l1,sparse_ae_kl}.py,
each evaluated on the test split (reconstruction error, PSNR of the output and of the corrupted input,
the code's activity).

The runs of the script that made results/autoencoders (since removed); its default short schedules and its --full are
the variants:

  dvae study run experiments/studies/autoencoders.py:cpu_short   # 18 runs, ~1 min each on 2 CPU cores
  dvae study report experiments/studies/autoencoders.py:cpu_short --out results/autoencoders_cpu_short
  dvae study run experiments/studies/autoencoders.py             # the configs' own schedules (GPU)
  dvae study report experiments/studies/autoencoders.py --out results/autoencoders

Variants (times per run on 2 CPU cores are estimates, from results/autoencoders' 0.7-1.0 min of training
and 0.1-0.2 min of evaluation per run on shared cores):
  (none)     the configs' own schedules (the script's --full): the conv DAE 25 epochs of all training
             images at the original's Adam 1e-5 (~1.3 GFLOP per image: many hours on 2 CPU cores, a GPU
             job), the conv AE 10 epochs (~5 min), the four MLP autoencoders 10 epochs (~1 min each).
  cpu_short  the script's default, the setting of results/autoencoders: the conv DAE's `fast` variant
             (Adam 1e-3, not the original's 1e-5: Adam's steps scale with the rate, and 1e-5 would move
             the weights 100 times less in these 50 steps) 1 epoch on the first 3,200 training images,
             validated and tested on the first 500 images; the conv AE 2 of its 10 epochs; the MLP
             autoencoders their own 10 epochs; tested on all 10,000 test images.
"""

from dvae_jax.study import Group, Metric, Study, Table
from dvae_jax.study.spec import parse_variant

VARIANTS = {"cpu_short": False}  # the script's short schedules
SEEDS = (0, 1, 2)
EXPERIMENTS = (
  "mnist_conv_dae",
  "mnist_mlp_dae_gaussian",
  "mnist_mlp_dae_dropout",
  "mnist_conv_ae",
  "mnist_sparse_ae_l1",
  "mnist_sparse_ae_kl",
)
# The script's short schedules (its default; --full drops them): variants and overrides.
SHORT_VARIANTS = {"mnist_conv_dae": "fast"}
SHORT = {
  "mnist_conv_dae": {"train.num_epochs": 1, "data.train_limit": 3200, "data.eval_limit": 500},
  "mnist_conv_ae": {"train.num_epochs": 2},
}

FULL = (
  "The configs' own schedules: arunarn2's conv DAE 25 epochs at Adam 1e-5, the Hands-On ML autoencoders 10 "
  "epochs, on all training images; tested on all 10,000 test images."
)
SHORTENED = (
  "**Shortened schedules for the two conv networks:** arunarn2's conv DAE 1 of its 25 epochs on the "
  "first 3,200 training images (of 55,000) at Adam 1e-3 (its `fast` variant; the original's rate is 1e-5), "
  "validated and tested on the first 500 images; Hands-On ML's conv AE 2 of its 10 epochs. The four MLP "
  "autoencoders train their own 10 epochs on all training images. Tested on all 10,000 test images (the conv "
  "DAE: 500)."
)


def get_study(variant: str | None = None) -> Study:
  arg = parse_variant(variant, VARIANTS)
  short = arg.cpu_short
  groups = {}
  for name in EXPERIMENTS:
    overrides = {"train.progress_bar": False, **(SHORT.get(name, {}) if short else {})}
    experiment = f"{name}:{SHORT_VARIANTS[name]}" if short and name in SHORT_VARIANTS else name
    groups[name] = Group(experiment, overrides)
  return Study(
    name="autoencoders_cpu_short" if short else "autoencoders",
    groups=groups,
    seeds=SEEDS,
    overrides={"eval.iw_samples": 0},
    tables=[
      Table(
        metrics=[
          Metric("recon_mse", "recon MSE (sum over pixels)"),
          Metric("psnr_db", "PSNR output, dB"),
          Metric("noisy_psnr_db", "PSNR noisy input, dB"),
          Metric("code_mean_activation", "code mean activation"),
          Metric("code_active_fraction", "code active fraction"),
          Metric("sparsity_penalty", "sparsity penalty, nats"),
        ],
        title="Autoencoders of arunarn2/AutoEncoder and Hands-On ML on MNIST (test split)",
      )
    ],
    description="Per test image, averaged: recon MSE is the sum over the 784 pixels of (output - clean)^2, the "
    "output being sigmoid(logits), or for the Hands-On ML models the linear output clipped to [0, 1]; "
    "PSNR = 10 log10(1 / per-pixel MSE), in dB, for the output and for the corrupted input, both against the clean "
    "image (the input is corrupted in evaluation too); the code's mean activation (over units), the fraction of its "
    "units above 0.1, and the sparsity penalty added to the objective. " + (SHORTENED if short else FULL),
  )
