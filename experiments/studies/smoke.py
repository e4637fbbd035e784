"""The smallest study: the reference VAE against the reference DVAE (dojoteef/dvae) on MNIST, tiny
models on 64 training images for one epoch, two seeds each; the report compares them seed by seed.

  dvae study run smoke --dry-run       # the commands of the runs not finished yet
  dvae study run smoke                 # 4 runs, about 2 minutes on a 2-core CPU
  dvae study report smoke              # runs/smoke/report/README.md and runs.csv
  dvae study run smoke:quick           # one seed per group (tests/study/test_runner.py)

A smoke run says nothing about the models: it checks that the study machinery works end to end. A
real study is the same file with `:cpu` (or no variant) experiments, more seeds and no tiny overrides.
"""

from dvae_jax import published
from dvae_jax.study import Group, Study, Table
from dvae_jax.study.spec import parse_variant

TINY = {"data.train_limit": 64, "data.eval_limit": 64, "train.num_epochs": 1, "train.progress_bar": False}
VARIANTS = {"quick": False}  # quick: one seed per group


def get_study(variant: str | None = None) -> Study:
  arg = parse_variant(variant, VARIANTS)
  vae_loss, _, _ = published.DVAE_TABLE["mnist", "vae", 1]
  dvae_loss, _, _ = published.DVAE_TABLE["mnist", "dvae", 1]
  return Study(
    name="smoke_quick" if arg.quick else "smoke",
    description="The reference VAE and DVAE on a tiny slice of MNIST: a check of the study machinery, not a result.",
    groups={
      "vae": Group("mnist_vae:smoke", TINY, published={"reference_loss": vae_loss}),
      "dvae": Group("mnist_dvae:smoke", TINY, published={"reference_loss": dvae_loss}),
    },
    seeds=(0,) if arg.quick else (0, 1),
    overrides={"eval.iw_samples": 2, "eval.iw_limit": 16},
    tables=(
      Table(
        title="VAE and DVAE, smoke",
        metrics=("output_neg_elbo_nats", "iw_nll_nats", "reference_loss", "kl_nats"),
        comparisons=("dvae - vae",),
      ),
    ),
  )
