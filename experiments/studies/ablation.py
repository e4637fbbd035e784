"""Which reference-fidelity fix moved the reference VAE's numbers, over seeds: dojoteef/dvae's VAE at
samples 1 (experiments/mnist_vae.py; the DVAE with the "dvae" variant), trained as in dvae_table's
cpu_2epochs setting, with each fix undone in turn:

  all_fixes         the reference's L2 accounting and its batch-normalized label logits
  single_l2         model.l2_scheme=single (one 5e-4 weight-decay term per step)
  plain_label_head  model.label_batch_norm=false (an FC label head)
  neither           both undone

The runs of the script that made results/dvae_table/ablation.md (since removed); its --classifier (a workdir trained
elsewhere) is a group
of the study here, the evaluation classifier trained as dvae_table's cpu_2epochs trains it (one run,
seed 0), and its --family is the variant:

  dvae study run experiments/studies/ablation.py         # 13 runs, ~3-4 min each on 2 CPU cores
  dvae study report experiments/studies/ablation.py --out results/ablation
  dvae study run experiments/studies/ablation.py:dvae    # the same for the DVAE (~5-7 min a run)
  dvae study report experiments/studies/ablation.py:dvae --out results/ablation_dvae

The script has one setting, that of results/dvae_table/ablation.md (the variant-less study): 2 epochs on
the first 27,000 training images, learning rate 0.01 then 0.001, batch-norm momentum 0.9; test metrics
on all 10,000 test images after recomputing batch norm on 50 training batches. Times per run are
estimates, scaled from that table's and results/dvae_table's training times (4.0-5.3 min for the VAE
when least loaded, taken with what is now model.network.fast_ops=off; the default is about 1.7x faster).
"""

from dvae_jax.study import Group, Metric, Study, Table
from dvae_jax.study.spec import parse_variant

VARIANTS = {"dvae": False}  # the DVAE instead of the VAE
SEEDS = (0, 1, 2)

COMMON = {
  "train.progress_bar": False,
  "data.train_limit": 27_000,
  "train.num_epochs": 2,
  "optim.decay_epochs": 1,
  "model.network.bn_momentum": 0.9,
}
# The classifier of dvae_table's cpu_2epochs (the one results/dvae_table/ablation.md was judged by):
# epochs x0.008, 27,000 training images, batch-norm momentum 0.9 (evaluated without an NLL, as the script did).
CLASSIFIER = {
  "train.progress_bar": False,
  "eval.iw_samples": 0,  # a classifier has no NLL
  "data.train_limit": 27_000,
  "eval.iw_limit": 500,
  "model.network.bn_momentum": 0.9,
  "train.num_epochs": 1,
  "optim.decay_epochs": 1,
}
FIXES = {
  "all_fixes": {},
  "single_l2": {"model.l2_scheme": "single"},
  "plain_label_head": {"model.label_batch_norm": False},
  "neither": {"model.l2_scheme": "single", "model.label_batch_norm": False},
}


def get_study(variant: str | None = None) -> Study:
  arg = parse_variant(variant, VARIANTS)
  family = "dvae" if arg.dvae else "vae"
  groups = {"mnist_classifier": Group("mnist_classifier", CLASSIFIER, seeds=(0,))}
  for name, undone in FIXES.items():
    groups[name] = Group(f"mnist_{family}", {**COMMON, **undone})
  return Study(
    name="ablation_dvae" if arg.dvae else "ablation",
    groups=groups,
    seeds=SEEDS,
    overrides={"eval.iw_samples": 0, "eval.recompute_batch_norm": 50},
    classifier="mnist_classifier",
    tables=[
      Table(
        metrics=[
          Metric("reference_loss", "test loss (output decoder's BCE + its L2), nats"),
          Metric("kl_nats", "test KLD, nats"),
          Metric("output_neg_elbo_nats", "-ELBO, nats"),
          Metric("label_error", "label-head error"),
          "classifier_error_on_reconstructions",
        ],
        comparisons=[f"{name} - all_fixes" for name in FIXES if name != "all_fixes"],
        title=f"Which reference-fidelity fix moved what ({family.upper()}, samples 1)",
        groups=list(FIXES),
      ),
      Table(
        metrics=["label_error"], title="The evaluation classifier on real test images", groups=["mnist_classifier"]
      ),
    ],
    description=f"dojoteef/dvae's {family.upper()} at samples 1 with each reference-fidelity fix undone in turn: the "
    "reference's L2 accounting (single_l2: one 5e-4 weight-decay term per step instead) and its batch-normalized "
    "label logits (plain_label_head: an FC label head instead); neither: both undone. **Shortened schedule:** 2 of "
    "the reference's 250 epochs on the first 27,000 training images, learning rate 0.01 then 0.001, batch-norm "
    "momentum 0.9 instead of 0.999; test metrics on all 10,000 test images after recomputing batch norm's "
    "statistics on 50 training batches; no NLL. Judged by one evaluation classifier (1 of the reference's 60 "
    "epochs on the same 27,000 images, seed 0). Test loss = the output decoder's BCE + its L2 term (once).",
  )
