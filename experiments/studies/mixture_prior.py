"""A learned mixture-of-Gaussians prior against N(0, I) over seeds: the flax-example MLP VAE on
dynamically binarized MNIST with each prior (experiments/mnist_mixture_vae.py and its twin
mnist_mixture_vae_standard_prior.py: the same network, data and budget).

The runs of the script that made results/mixture_prior (since removed), its knobs as the variants:

  dvae study run experiments/studies/mixture_prior.py:cpu3       # 6 runs, ~2-2.5 min each on 2 CPU cores
  dvae study report experiments/studies/mixture_prior.py:cpu3 --out results/mixture_prior_cpu3
  dvae study run experiments/studies/mixture_prior.py            # the configs as they are: results/mixture_prior's
  dvae study report experiments/studies/mixture_prior.py --out results/mixture_prior
  dvae study run experiments/studies/mixture_prior.py:50epochs   # the script's longer setting (GPU)
  dvae study report experiments/studies/mixture_prior.py:50epochs --out results/mixture_prior_50epochs

Variants (times per run on 2 CPU cores are estimates, from results/mixture_prior's 2.5-2.8 min of
training and 1.7-1.8 min of evaluation):
  (none)    the configs as they are, the setting of results/mixture_prior: 10 epochs on all 54,000
            training images, test -ELBO on all 10,000 test images, NLL with k = 1000 on the first
            1,000 (~4.5 min a run).
  50epochs  the script's longer setting (`--epochs 50 --iw-samples 5000 --iw-limit 10000`): 50 epochs,
            NLL with k = 5000 on all 10,000 test images (a GPU job; ~15 min of training a run on 2 CPU
            cores, and an hour or more of NLL).
  cpu3      2 of the 10 epochs, evaluated as the configs are (k = 1000 on 1,000 test images).
"""

from dvae_jax.study import Budget, Group, Metric, Study, Table
from dvae_jax.study.spec import parse_variant

SEEDS = (0, 1, 2)


SETTINGS = {
  None: Budget(
    {"eval.iw_samples": 1000},
    "10 epochs (the configs' schedule) on all 54,000 training images; test -ELBO and KL on all 10,000 test "
    "images, the NLL with k = 1000 on the first 1,000.",
  ),
  "50epochs": Budget(
    {"train.num_epochs": 50, "eval.iw_samples": 5000, "eval.iw_limit": 10_000},
    "50 epochs on all 54,000 training images; test -ELBO and KL on all 10,000 test images, the NLL with "
    "k = 5000 on all 10,000.",
  ),
  "cpu3": Budget(
    {"train.num_epochs": 2, "eval.iw_samples": 1000},
    "**Shortened schedule:** 2 of the configs' 10 epochs on all 54,000 training images; test -ELBO and KL on "
    "all 10,000 test images, the NLL with k = 1000 on the first 1,000.",
  ),
}
VARIANTS = {"setting": tuple(SETTINGS)}  # None (the configs as they are), "50epochs", "cpu3"


def get_study(variant: str | None = None) -> Study:
  arg = parse_variant(variant, VARIANTS)
  setting = SETTINGS[arg.setting]
  overrides = {"train.progress_bar": False, **setting.overrides}
  return Study(
    name="mixture_prior" if arg.setting is None else f"mixture_prior_{arg.setting}",
    groups={
      "standard": Group("mnist_mixture_vae_standard_prior", overrides),
      "mixture": Group("mnist_mixture_vae", overrides),
    },
    seeds=SEEDS,
    tables=[
      Table(
        metrics=[
          Metric("output_neg_elbo_nats", "test -ELBO, nats"),
          Metric("kl_nats", "KL, nats"),
          Metric("iw_nll_nats", "test NLL (importance-weighted), nats"),
        ],
        comparisons=["mixture - standard"],
        title="A learned mixture of 10 Gaussians vs N(0, I)",
      ),
      Table(
        metrics=[
          Metric("cluster_accuracy", "cluster accuracy (1:1)"),
          Metric("cluster_accuracy_many_to_one", "cluster accuracy (many:1)"),
          Metric("cluster_components_used", "components used"),
        ],
        title="The mixture's components as clusters of the digits",
        groups=["mixture"],
      ),
    ],
    description="The flax-example MLP VAE (784-500-20) on dynamically binarized MNIST with a learned mixture of 10 "
    "Gaussians as prior against its N(0, I) twin, the same in everything but the prior. Nats per image, one "
    "posterior draw each (the mixture's KL is a Monte-Carlo estimate). Cluster accuracy: the component most "
    "responsible for an image's posterior mean, mapped to labels one-to-one (Hungarian; unmatched components count "
    "as wrong) or many-to-one (each component to its majority label). " + setting.description,
  )
