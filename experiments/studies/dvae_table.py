"""The denoising-VAE results table of dojoteef/dvae over seeds: the reference VAE against the DVAE at
samples 1 and 5, each judged by the reference's evaluation classifier, on MNIST (and CIFAR-10).

The runs of the script that made results/dvae_table (since removed): the classifier
(experiments/mnist_classifier.py, one
run, seed 0, which scores every model's reconstructions), then experiments/mnist_vae.py and
mnist_dvae.py at model.samples 1 and 5, each over the seeds; the script's knobs are the variants:

  dvae study run experiments/studies/dvae_table.py:cpu3          # 13 runs, ~1-2 min each on 2 CPU cores
  dvae study report experiments/studies/dvae_table.py:cpu3 --out results/dvae_table_cpu3
  dvae study run experiments/studies/dvae_table.py:cpu_2epochs   # 13 runs, ~3-8 min each on 2 CPU cores
  dvae study report experiments/studies/dvae_table.py:cpu_2epochs --out results/dvae_table_cpu_2epochs
  dvae study run experiments/studies/dvae_table.py:mnist         # the reference schedule, MNIST only (GPU)
  dvae study report experiments/studies/dvae_table.py:mnist --out results/dvae_table_mnist
  dvae study run experiments/studies/dvae_table.py               # the reference schedule, MNIST and CIFAR-10 (GPU)
  dvae study report experiments/studies/dvae_table.py --out results/dvae_table

Variants (times per run on 2 CPU cores are estimates, scaled from the scripts' recorded times):
  (none)       the reference schedule: 250 epochs (the classifier 60), CIFAR-10 500 (its classifier 250),
               every training image, every test image, NLL with k = 5000. Needs the CIFAR-10 files in
               <data dir>/cifar10/. A GPU job: on 2 CPU cores half a day to a day of training per MNIST
               model, and the k = 5000 NLL alone about 2 hours for the VAE, 15 for the DVAE.
  mnist        the same, MNIST cells only.
  cpu_2epochs  results/dvae_table's setting (`--epochs-scale 0.008 --train-limit 27000 --iw-samples 200
               --iw-limit 500 --bn-momentum 0.9 --recompute-bn 50`): 2 epochs on 27,000 images, MNIST.
  cpu3         the script's --quick: 2 epochs on 4,800 images, test metrics on 2,000 test images,
               NLL k = 100 on 200, MNIST; ~1-2 min a run, the 13 runs in about 20-25 minutes.
"""

import dataclasses

from dvae_jax import published
from dvae_jax.study import Group, Metric, Study, Table
from dvae_jax.study.spec import parse_variant

SEEDS = (0, 1, 2)
NAMES = {"mnist": "MNIST", "cifar10": "CIFAR-10"}

# data -> (classifier epochs, its decay interval, model epochs, their decay interval): the reference's.
SCHEDULES = {"mnist": (60, 15, 250, 50), "cifar10": (250, 50, 500, 200)}


@dataclasses.dataclass(frozen=True)
class Setting:
  """A schedule's knobs (those of the removed single-seed script); None leaves the experiment's own."""

  epochs_scale: float = 1.0
  train_limit: int | None = None
  eval_limit: int | None = None
  iw_samples: int = 5000
  iw_limit: int | None = None
  bn_momentum: float | None = None
  recompute_bn: int = 0
  datasets: tuple[str, ...] = ("mnist", "cifar10")


MNIST = ("mnist",)  # the CPU settings: no CIFAR-10 files on the machines they were measured on
SETTINGS = {
  None: Setting(),
  "mnist": Setting(datasets=MNIST),
  "cpu_2epochs": Setting(
    epochs_scale=0.008,
    train_limit=27_000,
    iw_samples=200,
    iw_limit=500,
    bn_momentum=0.9,
    recompute_bn=50,
    datasets=MNIST,
  ),
  "cpu3": Setting(
    epochs_scale=0.008,
    train_limit=4800,
    eval_limit=2000,
    iw_samples=100,
    iw_limit=200,
    bn_momentum=0.9,
    recompute_bn=50,
    datasets=MNIST,
  ),
}
VARIANTS = {"setting": tuple(SETTINGS)}  # None (the reference schedule), "mnist", "cpu_2epochs", "cpu3"


def scaled(epochs: int, scale: float) -> int:
  """The script's `scaled`: max(1, round(epochs * scale)), halves to even."""
  return max(1, round(epochs * scale))


def common_overrides(setting: Setting) -> dict:
  """The overrides every run of the script gets (its `common` array)."""
  overrides = {
    "train.progress_bar": False,
    "eval.iw_samples": setting.iw_samples,
    "eval.recompute_batch_norm": setting.recompute_bn,
  }
  optional = {
    "data.train_limit": setting.train_limit,
    "data.eval_limit": setting.eval_limit,
    "eval.iw_limit": setting.iw_limit,
    "model.network.bn_momentum": setting.bn_momentum,
  }
  return overrides | {key: value for key, value in optional.items() if value is not None}


def describe(setting: Setting) -> str:
  """The budget of `setting`, in words, after what the study compares."""
  text = (
    f"dojoteef/dvae's VAE against its DVAE at samples 1 and 5 on {' and '.join(NAMES[d] for d in setting.datasets)}, "
    "each model over the seeds, judged by one evaluation classifier (seed 0) per data set. Test loss = the output "
    "decoder's BCE + its L2 term (the DAE decoder's for the DVAE); KLD as trained; classifier error on one "
    "stochastic reconstruction per test image; importance-weighted NLL under the Bernoulli output (a bound on "
    "continuous data, not a true NLL)."
  )
  shortened = setting.epochs_scale != 1 or setting.train_limit is not None or setting.eval_limit is not None
  schedules = []
  for data in setting.datasets:
    clf_epochs, _, epochs, decay = SCHEDULES[data]
    ours, clf_ours = scaled(epochs, setting.epochs_scale), scaled(clf_epochs, setting.epochs_scale)
    of, clf_of = (f" of the reference's {epochs}", f" of {clf_epochs}") if shortened else ("", "")
    schedules.append(
      f"{NAMES[data]}: {ours}{of} epochs (learning rate x0.1 every {scaled(decay, setting.epochs_scale)}), its "
      f"classifier {clf_ours}{clf_of}"
    )
  text += " **Shortened schedule, not a full-length reproduction.** " if shortened else " The reference schedule. "
  text += "; ".join(schedules)
  text += (
    f", on the first {setting.train_limit:,} training images" if setting.train_limit else ", on every training image"
  )
  if setting.eval_limit:
    text += f"; validation and test metrics on the first {setting.eval_limit:,} images of each split"
  else:
    text += "; test metrics on all test images"
  text += f"; the NLL with k = {setting.iw_samples} on " + (
    f"the first {setting.iw_limit:,} test images." if setting.iw_limit else "every test image."
  )
  if setting.bn_momentum is not None:
    text += (
      f" Batch-norm momentum {setting.bn_momentum} instead of the reference's 0.999, whose running averages would "
      "still hold most of their initial values after so few steps."
    )
  if setting.recompute_bn:
    text += (
      f" Before evaluation, batch norm's statistics were recomputed with the final parameters on "
      f"{setting.recompute_bn} training batches."
    )
  return text


def get_study(variant: str | None = None) -> Study:
  arg = parse_variant(variant, VARIANTS)
  setting = SETTINGS[arg.setting]
  common = common_overrides(setting)
  groups, tables = {}, []
  for data in setting.datasets:
    clf_epochs, clf_decay, epochs, decay = SCHEDULES[data]
    classifier = f"{data}_classifier"
    groups[classifier] = Group(
      f"{data}_classifier",
      {
        **common,
        "train.num_epochs": scaled(clf_epochs, setting.epochs_scale),
        "optim.decay_epochs": scaled(clf_decay, setting.epochs_scale),
      },
      seeds=(0,),  # one judge for every model and seed, as the script trains one
      published={"label_error": published.CLASSIFIER_ERROR[data] / 100},
    )
    models = []
    for samples in (1, 5):
      for family in ("vae", "dvae"):
        loss, kld, error = published.DVAE_TABLE[(data, family, samples)]
        name = f"{data}_{family}_s{samples}"
        models.append(name)
        groups[name] = Group(
          f"{data}_{family}",
          {
            **common,
            "train.num_epochs": scaled(epochs, setting.epochs_scale),
            "optim.decay_epochs": scaled(decay, setting.epochs_scale),
            "model.samples": samples,
          },
          published={"reference_loss": loss, "kl_nats": kld, "classifier_error_on_reconstructions": error / 100},
          classifier=classifier,
        )
    tables += [
      Table(
        metrics=[
          Metric("reference_loss", "test loss (output decoder's BCE + its L2), nats"),
          Metric("kl_nats", "test KLD, nats"),
          "classifier_error_on_reconstructions",
          "iw_nll_nats",
        ],
        comparisons=[f"{data}_dvae_s{samples} - {data}_vae_s{samples}" for samples in (1, 5)],
        title=f"{NAMES[data]}: VAE vs DVAE",
        groups=models,
      ),
      Table(
        metrics=[
          Metric("reference_loss_vae_decoder", "DVAE: test loss of its VAE decoder, nats"),
          Metric("reference_l2_decoder", "VAE: L2 term in the test loss"),
          Metric("reference_l2_dae_decoder", "DVAE: L2 term of the DAE decoder"),
          Metric("reference_l2_vae_decoder", "DVAE: L2 term of the VAE decoder"),
        ],
        title=f"{NAMES[data]}: the DVAE's second decoder and the L2 terms",
        groups=models,
      ),
      Table(metrics=["label_error"], title=f"{NAMES[data]}: classifier error on real test images", groups=[classifier]),
    ]
  return Study(
    name="dvae_table" if arg.setting is None else f"dvae_table_{arg.setting}",
    groups=groups,
    seeds=SEEDS,
    tables=tables,
    description=describe(setting),
  )
