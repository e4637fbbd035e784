"""VAE vs DVAE in nats of test NLL over seeds: dojoteef/dvae's networks on dynamically binarized MNIST
(experiments/mnist_binarized_vae.py and mnist_binarized_dvae.py), where the importance-weighted
estimate of -log p(x) is a true test NLL.

The runs of the script that made results/binarized_nll (since removed), its knobs as the variants:

  dvae study run experiments/studies/binarized_nll.py:cpu3          # 6 runs, ~1-2 min each on 2 CPU cores
  dvae study report experiments/studies/binarized_nll.py:cpu3 --out results/binarized_nll_cpu3
  dvae study run experiments/studies/binarized_nll.py:cpu_2epochs   # 6 runs, ~4-9 min each on 2 CPU cores
  dvae study report experiments/studies/binarized_nll.py:cpu_2epochs --out results/binarized_nll_cpu_2epochs
  dvae study run experiments/studies/binarized_nll.py               # the full schedule, k = 5000 (GPU)
  dvae study report experiments/studies/binarized_nll.py --out results/binarized_nll

Variants (times per run on 2 CPU cores are estimates, scaled from results/binarized_nll's):
  (none)       the configs' schedule: 250 epochs on all 54,000 training images, the NLL with k = 5000 on
               all 10,000 test images. A GPU job (on 2 CPU cores: half a day to a day of training per model, and
               the k = 5000 NLL alone about 2 hours for the VAE, 15 for the DVAE).
  cpu_2epochs  results/binarized_nll's setting (`--epochs 2 --train-limit 27000 --iw-samples 200
               --iw-limit 500 --bn-momentum 0.99`): 2 epochs on 27,000 images, NLL k = 200 on 500.
  cpu3         2 epochs on 4,800 images, test metrics on 2,000 test images, NLL k = 100 on 200,
               batch-norm momentum 0.9 and batch norm recomputed on 50 training batches before
               evaluation (dvae_table's cpu3 protocol); three seeds of both in about 10 minutes.
"""

from dvae_jax.study import Budget, Group, Metric, Study, Table
from dvae_jax.study.spec import parse_variant

SEEDS = (0, 1, 2)


SETTINGS = {
  None: Budget(
    {"eval.iw_samples": 5000},
    "The configs' schedule: 250 epochs (learning rate 0.01, x0.1 every 50) on all 54,000 training images; "
    "test -ELBO on all 10,000 test images, the NLL with k = 5000 importance samples on all of them.",
  ),
  "cpu_2epochs": Budget(
    {
      "train.num_epochs": 2,
      "optim.decay_epochs": 1,  # the script's (epochs + 1) / 2
      "data.train_limit": 27_000,
      "model.network.bn_momentum": 0.99,
      "eval.iw_samples": 200,
      "eval.iw_limit": 500,
    },
    "**Shortened schedule, not a full-length reproduction:** 2 of 250 epochs (learning rate 0.01, then "
    "0.001 in the second) on the first 27,000 training images, batch-norm momentum 0.99 instead of 0.999; test -ELBO "
    "on all 10,000 test images, the NLL with k = 200 on the first 500.",
  ),
  "cpu3": Budget(
    {
      "train.num_epochs": 2,
      "optim.decay_epochs": 1,
      "data.train_limit": 4800,
      "data.eval_limit": 2000,
      "model.network.bn_momentum": 0.9,
      "eval.iw_samples": 100,
      "eval.iw_limit": 200,
      "eval.recompute_batch_norm": 50,
    },
    "**Shortened schedule, not a full-length reproduction:** 2 of 250 epochs (learning rate 0.01, then 0.001 "
    "in the second) on the first 4,800 training images, batch-norm momentum 0.9 instead of 0.999 and batch norm's "
    "statistics recomputed on 50 training batches before evaluation; validation and test metrics on the first 2,000 "
    "images of each split, the NLL with k = 100 on the first 200 test images.",
  ),
}
VARIANTS = {"setting": tuple(SETTINGS)}  # None (the configs' schedule), "cpu_2epochs", "cpu3"


def get_study(variant: str | None = None) -> Study:
  arg = parse_variant(variant, VARIANTS)
  setting = SETTINGS[arg.setting]
  overrides = {"train.progress_bar": False, **setting.overrides}
  return Study(
    name="binarized_nll" if arg.setting is None else f"binarized_nll_{arg.setting}",
    groups={
      "vae": Group("mnist_binarized_vae", overrides),
      "dvae": Group("mnist_binarized_dvae", overrides),
    },
    seeds=SEEDS,
    tables=[
      Table(
        metrics=[
          Metric("iw_nll_nats", "test NLL (importance-weighted), nats"),
          Metric("output_neg_elbo_nats", "test -ELBO, same likelihood, nats"),
        ],
        comparisons=["dvae - vae"],
        title="Test NLL on dynamically binarized MNIST",
      )
    ],
    description="dojoteef/dvae's VAE and DVAE networks and objectives on dynamically binarized MNIST (pixels "
    "binarized afresh at every step; the test images once), where the importance-weighted -log p(x) is a true NLL. "
    "Anchors of the IWAE paper (Burda et al. 2015; other networks, k = 5000, 3280 epochs): one-stochastic-layer VAE "
    "86.76 nats, IWAE k = 50 84.78; a short schedule is far from converged and not comparable with them in value. "
    + setting.description,
  )
