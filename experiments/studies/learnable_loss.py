"""The VAE with a learnable loss (xuganyu96/VAE-GAN-learnable-loss) over seeds: its dense VAE without and
with its dense discriminator (experiments/mnist_dense_vae.py and mnist_vae_gan.py), BCE and L2 pixel
losses, on MNIST and Fashion-MNIST, every run judged by a small MLP classifier trained on the same data
(experiments/mnist_feature_classifier.py: classifier error of the reconstructions, classifier-feature
Frechet distances); optionally the 64 x 64 face configs (experiments/faces_vae.py, faces_vae_gan.py:resnet).

The runs of the script that made results/learnable_loss (since removed), its knobs as the variants:

  dvae study run experiments/studies/learnable_loss.py:cpu_3epochs   # 2 classifiers + 30 runs (faces included)
  dvae study report experiments/studies/learnable_loss.py:cpu_3epochs --out results/learnable_loss_cpu_3epochs
  dvae study run experiments/studies/learnable_loss.py:mnist_cpu5    # MNIST: 1 classifier + 12 runs of 5 epochs
  dvae study report experiments/studies/learnable_loss.py:mnist_cpu5 --out results/learnable_loss_mnist_cpu5
  dvae study run experiments/studies/learnable_loss.py:mnist_cpu20   # the same, 20 epochs a run
  dvae study report experiments/studies/learnable_loss.py:mnist_cpu20 --out results/learnable_loss_mnist_cpu20
  dvae study run experiments/studies/learnable_loss.py               # 50 epochs a run, no faces
  dvae study report experiments/studies/learnable_loss.py --out results/learnable_loss

The face runs read a folder of 64 x 64 RGB images at runs/fashion64_png (relative to the directory the
study is run from), a stand-in for a face dataset: the Fashion-MNIST test images, written once by

  python3 scripts/make_image_folder.py --dataset fashion_mnist --split test --size 64 --rgb --out runs/fashion64_png

Variants (times per run on 2 CPU cores are estimates, from results/learnable_loss' 10-14 s (MNIST) and
28-40 s (Fashion-MNIST) per epoch on shared cores):
  (none)       the original's length: 50 epochs per VAE run, the classifiers 5 epochs; no face runs (the
               script's default). About 10-12 min a MNIST run, 25-35 min a Fashion-MNIST run.
  mnist_cpu5   MNIST only, 5 epochs per VAE run (a tenth of the original's 50), the classifier 3: the
               comparison results/learnable_loss_mnist_cpu5 reports (under a minute a run on 2 cores).
  mnist_cpu20  the same with 20 epochs per VAE run (an estimate from mnist_cpu5's times: about 2 min a run).
  cpu_3epochs  results/learnable_loss' setting (`--epochs 3 --classifier-epochs 3 --face-epochs 1`): 3
               epochs per VAE run (~1-2.5 min), the classifiers 3, and the face VAE and VAE + ResNet
               discriminator 1 epoch each on the stand-in folder (~5 and ~28 min).
"""

import dataclasses

from dvae_jax.study import Group, Metric, Study, Table
from dvae_jax.study.spec import parse_variant

SEEDS = (0, 1, 2)
DATASETS = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}
FACE_FOLDER = "runs/fashion64_png"  # scripts/make_image_folder.py's output (see above)
FACE_CACHE = "runs/image_folder_cache"


@dataclasses.dataclass(frozen=True)
class Setting:
  """A variant's budget (the script's flags)."""

  epochs: int  # of each VAE run
  classifier_epochs: int
  face_epochs: int = 0  # 0: no face runs
  datasets: tuple[str, ...] = tuple(DATASETS)


SETTINGS = {
  None: Setting(epochs=50, classifier_epochs=5),
  "cpu_3epochs": Setting(epochs=3, classifier_epochs=3, face_epochs=1),
  "mnist_cpu5": Setting(epochs=5, classifier_epochs=3, datasets=("mnist",)),
  "mnist_cpu20": Setting(epochs=20, classifier_epochs=3, datasets=("mnist",)),
}
VARIANTS = {"setting": tuple(SETTINGS)}  # None (the original's length), "cpu_3epochs", "mnist_cpu5", "mnist_cpu20"

QUALITY = [
  Metric("recon_nats", "pixel loss -log p(x|z), nats"),
  Metric("kl_nats", "KLD, nats"),
  Metric("recon_psnr_db", "PSNR, dB"),
  Metric("recon_ssim", "SSIM"),
  Metric("recon_sharpness", "sharpness, reconstructions"),
]
# The test images' own sharpness is the same for every run of a data set: beside the reconstructions', not compared.
SHARPNESS = [
  Metric("recon_sharpness", "sharpness, reconstructions"),
  Metric("test_sharpness", "sharpness, test images"),
]
JUDGED = [
  Metric("frechet_reconstructions", "Frechet distance, reconstructions"),
  Metric("frechet_prior_samples", "Frechet distance, prior samples"),
  "classifier_error_on_reconstructions",
]


def get_study(variant: str | None = None) -> Study:
  arg = parse_variant(variant, VARIANTS)
  setting = SETTINGS[arg.setting]
  epochs, classifier_epochs, face_epochs = setting.epochs, setting.classifier_epochs, setting.face_epochs
  groups, tables = {}, []
  datasets = {data: DATASETS[data] for data in setting.datasets}
  for data, label in datasets.items():
    suffix = ",fashion" if data == "fashion" else ""
    classifier = f"{data}_classifier"
    groups[classifier] = Group(
      f"mnist_feature_classifier{':fashion' if suffix else ''}",
      {"train.num_epochs": classifier_epochs, "train.progress_bar": False, "eval.iw_samples": 0},
      seeds=(0,),  # one judge for every run and seed, as the script trains one
    )
    names = []
    for pbp in ("bce", "l2"):
      for model in ("dense_vae", "vae_gan"):
        name = f"{data}_{model}_{pbp}"
        names.append(name)
        groups[name] = Group(
          f"mnist_{model}:{pbp}{suffix}",
          {"train.num_epochs": epochs, "train.progress_bar": False, "eval.iw_samples": 0},
          classifier=classifier,
        )
    tables.append(
      Table(
        metrics=QUALITY + JUDGED,
        comparisons=[f"{data}_vae_gan_{pbp} - {data}_dense_vae_{pbp}" for pbp in ("bce", "l2")],
        title=f"{label}: the VAE (dense_vae) vs the VAE + D (vae_gan), per pixel loss",
        groups=names,
      )
    )
    tables.append(Table(metrics=SHARPNESS, title=f"{label}: sharpness, reconstructions vs test images", groups=names))
  if face_epochs:
    face = {
      "train.num_epochs": face_epochs,
      "train.progress_bar": False,
      "data.path": FACE_FOLDER,
      "data.cache_dir": FACE_CACHE,
    }
    groups["faces_vae"] = Group("faces_vae:light", face)
    groups["faces_vae_gan_resnet"] = Group("faces_vae_gan:resnet,light", face)
    tables.append(
      Table(
        metrics=QUALITY,
        comparisons=["faces_vae_gan_resnet - faces_vae"],
        title="64 x 64 face configs on the stand-in folder: VAE vs VAE + ResNet D",
        groups=["faces_vae", "faces_vae_gan_resnet"],
      )
    )
    tables.append(
      Table(
        metrics=SHARPNESS,
        title="Face configs: sharpness, reconstructions vs test images",
        groups=["faces_vae", "faces_vae_gan_resnet"],
      )
    )
  tables.append(
    Table(
      metrics=["label_error"],
      title="Classifier error on real test images",
      groups=[f"{data}_classifier" for data in datasets],
    )
  )
  budget = (
    "The original's settings: the VAE + D trained alternately (the discriminator's step first), w_disc = 1, "
    "Xavier-uniform init, all 60,000 training images. "
    f"{epochs} epochs per VAE run"
    + (" (the original's length)" if epochs == 50 else " (**shortened schedule**: the original trains 50)")
    + f", on all training images; the judging classifiers {classifier_epochs} epochs; tested on all 10,000 test images."
  )
  if face_epochs:
    budget += (
      f" The face configs (512 latents, 32 base channels) {face_epochs} epoch(s) of their 200 on a stand-in folder, "
      "since no face dataset is on these machines: the 10,000 Fashion-MNIST test images as 64 x 64 RGB PNGs, split "
      "80/20 by the loader's seeded shuffle; no classifier judges them."
    )
  return Study(
    name="learnable_loss" if arg.setting is None else f"learnable_loss_{arg.setting}",
    groups=groups,
    seeds=SEEDS,
    tables=tables,
    description="The learnable-loss VAE's dense VAE (z = 5, 3 x 400) without (dense_vae) and with (vae_gan) its dense "
    "discriminator, BCE or L2 pixel loss. Test split, means per image: pixel loss -log p(x|z) (BCE, or the sum of "
    "squared errors + 448.7 nats for L2); KLD; PSNR and SSIM of one reconstruction per test image; sharpness (mean "
    "gradient magnitude) of the reconstructions and of the test images; Frechet distance between the test images "
    "and the reconstructions or prior samples in the feature space of the project's MLP classifier (not the "
    "Inception FID); that classifier's error on the reconstructions. " + budget,
  )
