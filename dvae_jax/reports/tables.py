"""The markdown tables of the studies (scripts/*.sh), from the runs' eval_test.json (and config.json,
*_wall_seconds and metrics.jsonl where a table shows schedules or wall times; read by
reports.files), and the command that writes them:

  python -m dvae_jax.reports --help                                  # the tables
  python -m dvae_jax.reports vae-gan --runs runs/vae_gan --out /tmp/table.md

A missing or corrupt file is a WorkdirError naming it; the command prints it as one line and exits 1.
No jax here (except dvae-table's hardware line).
"""

import argparse
import datetime
import functools
import pathlib
import sys

from dvae_jax import published
from dvae_jax.errors import WorkdirError
from dvae_jax.reports.files import Cells, load_run

# Display names of data sets, model families and pixel losses in the tables.
NAMES = {"mnist": "MNIST", "cifar10": "CIFAR-10", "fashion": "Fashion-MNIST", "bce": "BCE", "l2": "L2"}
NAMES.update(vae="VAE", dvae="DVAE", dense_vae="VAE", vae_gan="VAE + D")


def _wall(minutes: float | None) -> str:
  return "-" if minutes is None else f"{minutes:.1f} min"


def _table(header: str, rows: list[str]) -> str:
  return "\n".join([header, "|---" * header.count(" | ") + "|---|", *rows])


def _document(title: str, *blocks: str) -> str:
  """Markdown: `# title`, then the blocks (paragraphs, tables), each after a blank line."""
  return "\n\n".join([f"# {title}", *blocks]) + "\n"


def dvae_table(runs: pathlib.Path, *, epochs_scale: float, command: str, hardware: str, date: str | None = None) -> str:
  """reproduce_dvae_table.sh: RUNS/{mnist,cifar10}_{vae,dvae}_s{1,5}, *_classifier beside dojoteef/dvae's."""
  blocks = [f"Made by `{command.strip()}` on {date or datetime.date.today().isoformat()}. Hardware: {hardware}."]
  found = [run for path in sorted(runs.iterdir()) if (run := load_run(path, optional=True))] if runs.exists() else []
  first = found[0] if found else Cells()
  limit = found and first["config"]["data"]["train_limit"]
  if found and (epochs_scale != 1 or limit or first["num_examples"] != 10_000):
    note = (
      "**Shortened schedule: these are not full-length reproductions.** "
      f"Epochs scaled by {epochs_scale} (the epochs column gives ours / the reference's), "
      + (f"training on the first {limit} training images, " if limit else "")
      + f"test metrics on the first {first['num_examples']} test images"
      + (f", NLL on the first {first['iw_num_examples']}" if "iw_num_examples" in first else "")
      + "."
    )
    if (momentum := first["config"]["model"]["network"]["bn_momentum"]) != 0.999:
      note += (
        f" Batch-norm momentum {momentum} instead of the reference's 0.999, whose running averages "
        "would still hold most of their initial values after so few steps."
      )
    if recomputed := first.get("recomputed_batch_norm_batches"):
      note += (
        f" Before evaluation, batch norm's running statistics were recomputed with the final parameters on "
        f"{recomputed} training batches (`--recompute-bn`): a short run's running averages lag behind its "
        "still-moving weights."
      )
    blocks.append(note)
  rows, classifiers = [], []
  for data in ("mnist", "cifar10"):
    for samples in (1, 5):
      for family in ("vae", "dvae"):
        loss, kld, error = published.DVAE_TABLE[(data, family, samples)]
        run = load_run(runs / f"{data}_{family}_s{samples}", optional=True) or Cells()
        nll = f"{run['iw_nll_nats']:.2f} (k={run['iw_samples']})" if "iw_nll_nats" in run else "-"
        vae_decoder, l2 = "(the output)", f"{run['reference_l2_decoder']:.3f}"
        if family == "dvae":
          vae_decoder = f"{run['reference_loss_vae_decoder']:.3f}"
          l2 = f"{run['reference_l2_dae_decoder']:.3f} / {run['reference_l2_vae_decoder']:.3f}"
        rows.append(
          f"| {NAMES[family]} | {NAMES[data]} | {samples} | {loss:.3f} | {run['reference_loss']:.3f} | {vae_decoder} "
          f"| {l2} | {kld:.3f} | {run['kl_nats']:.3f} | {error:.2f}% "
          f"| {run['classifier_error_on_reconstructions']:.2%} | {nll} "
          f"| {run['config']['train']['num_epochs'] if run else '-'} / {published.EPOCHS[(data, 'model')]} "
          f"| {_wall(run.get('train_minutes'))} |"
        )
    run = load_run(runs / f"{data}_classifier", optional=True) or Cells()
    classifiers.append(
      f"| {NAMES[data]} | {published.CLASSIFIER_ERROR[data]:.2f}% | {run['label_error']:.2%} "
      f"| {run['config']['train']['num_epochs'] if run else '-'} / {published.EPOCHS[(data, 'classifier')]} "
      f"| {_wall(run.get('train_minutes'))} |"
    )
  header = (
    "| model | data | samples | test loss: published | ours | ours: DVAE's VAE decoder | L2 in ours "
    "| test KLD: published | ours | classifier error: published | ours | test NLL (IW, k) | epochs | train wall time |"
  )
  return _document(
    "Denoising VAE: published results vs this reimplementation",
    *blocks,
    "Test loss = mean per-image BCE of a generator plus that generator's L2 term (5e-4 sum(w^2)/2, counted once, as "
    "the reference computes it; its value is in the L2 column). The reference's code logs the loss of both DVAE "
    "decoders and which one its table shows cannot be told: ours gives the DAE decoder's (the model's output) and "
    "the VAE decoder's. Test KLD = mean per-image KL; classifier error = error of the separately trained "
    "classifier on one stochastic reconstruction per test image. Test NLL = importance-weighted estimate of "
    "-log p(x) under the model's Bernoulli output (k samples; a bound on continuous [0,1] data, not a true NLL: see "
    "experiments/mnist_binarized_*.py for the binarized protocol). All in nats per image.",
    _table(header, rows),
    "Classifier error on real test images:",
    _table("| data | published | ours | epochs | train wall time |", classifiers),
  )


def vae_gan(runs: pathlib.Path, *, command: str, date: str | None = None) -> str:
  """reproduce_vae_gan.sh: RUNS/{mnist,fashion}_{dense_vae,vae_gan}_{bce,l2}, faces_vae*, *_classifier."""
  load = functools.partial(load_run, optional=True, config=False, epoch_seconds=True)
  quality = (  # epochs | pixel loss | KLD | PSNR | SSIM | sharpness
    "{epoch:.0f} | {recon_nats:.2f} | {kl_nats:.2f} | {recon_psnr_db:.2f} | {recon_ssim:.4f} "
    "| {recon_sharpness:.4f} / {test_sharpness:.4f}"
  )
  rows, faces, classifiers = [], [], []
  for data in ("mnist", "fashion"):
    for pbp in ("bce", "l2"):
      for model in ("dense_vae", "vae_gan"):
        if run := load(runs / f"{data}_{model}_{pbp}"):
          rows.append(
            f"| {NAMES[data]} | {NAMES[pbp]} | {NAMES[model]} | {quality.format_map(run)} "
            f"| {run['frechet_reconstructions']:.2f} | {run['frechet_prior_samples']:.2f} "
            f"| {run['classifier_error_on_reconstructions']:.2%} | {run['epoch_seconds']:.1f} |"
          )
    if run := load(runs / f"{data}_classifier"):
      classifiers.append(f"| {NAMES[data]} | {run['label_error']:.2%} | {run['epoch']:.0f} |")
  for label, name in (("VAE", "faces_vae"), ("VAE + ResNet D", "faces_vae_gan_resnet")):
    if run := load(runs / name):
      faces.append(f"| {label} | {quality.format_map(run)} | {run['epoch_seconds']:.1f} |")
  header = (
    "| data | pixel loss | model | epochs | pixel loss (nats) | KLD | PSNR | SSIM | sharpness recon. / test "
    "| Frechet recon. | Frechet samples | classifier error on recon. | s / epoch |"
  )
  face_blocks = [
    "The 64 x 64 face configs (experiments/faces_vae.py, faces_vae_gan.py:resnet: 512 latents, 32 base "
    "channels) on a stand-in folder, since no face dataset is on these machines: the 10,000 Fashion-MNIST "
    "test images written as 64 x 64 RGB PNGs (scripts/make_image_folder.py), split 80/20 by the loader's "
    "seeded shuffle. No classifier judges them.",
    _table("| model | epochs | pixel loss (nats) | KLD | PSNR | SSIM | sharpness recon. / test | s / epoch |", faces),
  ]
  return _document(
    "VAE with a learnable loss: the learnable-loss VAE's dense VAE with and without its discriminator",
    f"Made by `{command.strip()}` on {date or datetime.date.today().isoformat()}.",
    "Test split, means per image. Pixel loss: the run's -log p(x|z) (BCE, or the sum of squared errors + a constant "
    "for L2), nats; KLD, nats; PSNR (dB) and SSIM of one reconstruction per test image; sharpness: mean gradient "
    "magnitude of the reconstructions / of the test images; Frechet distance between the test images and the "
    "reconstructions (recon.) or prior samples (samples), in the feature space of the project's own MLP classifier "
    "(experiments/mnist_feature_classifier.py; not the Inception FID); classifier error of the reconstructions; "
    "wall time per epoch (median over epochs: training and validation).",
    _table(header, rows),
    *(face_blocks if faces else []),
    "Classifier error on real test images:",
    _table("| data | error | epochs |", classifiers),
  )


AUTOENCODERS = tuple(f"mnist_{name}" for name in "conv_dae mlp_dae_gaussian mlp_dae_dropout conv_ae".split())
AUTOENCODERS += ("mnist_sparse_ae_l1", "mnist_sparse_ae_kl")


def autoencoders(runs: pathlib.Path, *, command: str) -> str:
  """reproduce_autoencoders.sh: RUNS/<experiment> for each of AUTOENCODERS (arunarn2/AutoEncoder, Hands-On ML)."""
  rows = []
  for name in AUTOENCODERS:
    run = load_run(runs / name, walls=("train", "eval"))
    train, model = run["config"]["train"], run["config"]["model"]
    corruption, sparsity = model["corruption"], model["sparsity"]
    noise = ", ".join(f"{k} {v}" for k, v in corruption.items() if k != "name")
    penalty = ", ".join(f"{k} {v:.4g}" for k, v in sparsity.items() if k != "name")
    noisy = f"{run['noisy_psnr_db']:.2f}" if "noisy_psnr_db" in run else "-"
    gain = f"{run['psnr_db'] - run['noisy_psnr_db']:+.2f}" if "noisy_psnr_db" in run else "-"
    images = run["step"] // train["num_epochs"] * train["batch_size"]  # per epoch (full batches)
    rows.append(
      f"| {name} | {model['network']['name']} | {corruption['name']}{f' ({noise})' if noise else ''} "
      f"| {sparsity['name']}{f' ({penalty})' if penalty else ''} | {train['num_epochs']} x {images} "
      f"| {run['num_examples']} | {run['recon_mse']:.2f} | {run['psnr_db']:.2f} | {noisy} | {gain} "
      f"| {run['code_mean_activation']:.4f} | {run['code_active_fraction']:.4f} | {run['sparsity_penalty']:.4f} "
      f"| {run['train_minutes']:.1f} / {run['eval_minutes']:.1f} min |"
    )
  header = (
    "| experiment | network | corruption | sparsity | epochs x training images | test images | recon MSE "
    "| PSNR output (dB) | PSNR noisy input (dB) | gain (dB) | code mean activation | code active fraction "
    "| sparsity penalty | wall time train / eval |"
  )
  return _document(
    "Autoencoders of arunarn2/AutoEncoder and Hands-On ML on MNIST (test split)",
    f"Made by `{command.strip()}`. Per test image, averaged: `recon MSE` is the sum over the 784 pixels of "
    "(sigmoid(logits) - clean)^2; PSNR = 10 log10(1 / per-pixel MSE), in dB, for the output and for the "
    "corrupted input, both against the clean image (the input is corrupted in evaluation too); the code's "
    "mean activation (over units), the fraction of its units above 0.1, and the sparsity penalty added to "
    "the objective (nats).",
    _table(header, rows),
  )


def binarized_nll(runs: pathlib.Path, *, command: str) -> str:
  """reproduce_binarized_nll.sh: RUNS/mnist_binarized_{vae,dvae}, test NLL beside the IWAE paper's anchors."""
  rows = []
  for family in ("vae", "dvae"):
    run = load_run(runs / f"mnist_binarized_{family}", walls=("train",))
    config = run["config"]
    rows.append(
      f"| {family.upper()} (reference architecture) | {run['iw_nll_nats']:.2f} | {run['iw_samples']} "
      f"| {run['iw_num_examples']} | {run['output_recon_nats'] + run['kl_nats']:.2f} "
      f"| {config['train']['num_epochs']} / 250 | {config['data']['train_limit'] or 54000} "
      f"| {run['train_minutes']:.1f} min |"
    )
  header = (
    "| model | test NLL (IW) | k | test images | test -ELBO, same likelihood | epochs (ours / reference) "
    "| training images | train wall time |"
  )
  return _document(
    "Test NLL on dynamically binarized MNIST (nats per image)",
    f"Made by `{command.strip()}`. The IWAE-paper anchors (Burda et al. 2015, k = 5000 importance samples, "
    "full schedules of 3280 epochs): one-stochastic-layer VAE 86.76, IWAE k=50 84.78. Ours are measured, on the "
    "schedule in the table; a short schedule is far from converged and not comparable in value.",
    _table(header, rows),
  )


def denoising_vae_nll(runs: pathlib.Path, *, command: str) -> str:
  """reproduce_denoising_vae.sh: RUNS/mnist_binarized_{denoising_vae,mlp_vae} (Im et al. 2017), test NLL."""
  rows, nll = [], {}
  for name, label in (("denoising_vae", "denoising VAE (Gaussian input noise 0.025)"), ("mlp_vae", "VAE")):
    run = load_run(runs / f"mnist_binarized_{name}", walls=("train", "eval"))
    config = run["config"]
    nll[label] = run["iw_nll_nats"]
    rows.append(
      f"| {label} | {run['iw_nll_nats']:.2f} | {run['iw_samples']} / {run['iw_num_examples']} "
      f"| {run['output_neg_elbo_nats']:.2f} | {run['recon_nats']:.2f} | {run['kl_nats']:.2f} "
      f"| {config['train']['num_epochs']} / 200 | {config['optim']['learning_rate']:g} "
      f"| {config['data']['train_limit'] or 54000} | {config['seed']} "
      f"| {run['train_minutes']:.1f} / {run['eval_minutes']:.1f} min |"
    )
  (denoising, vae), best = nll.values(), min(nll, key=nll.get)
  header = (
    "| model | test NLL (IW) | k / test images | test bound | recon | KL | epochs (ours / authors') | lr "
    "| training images | seed | wall time train / evaluate |"
  )
  return _document(
    "Denoising VAE (Im et al. 2017) vs VAE: test NLL on dynamically binarized MNIST (nats per image)",
    f"Made by `{command.strip()}`. Same network (MLP 512-512, batch norm, LeakyReLU, z = 128), data, "
    "K = 10 posterior draws and budget for both; the NLL is importance-weighted with k samples from q(z|x) of "
    "the clean test image (the same generative model p(z) p(x|z) for both). The bound column is what each was "
    "trained on, measured on the test set: the K-draw -ELBO for the VAE, the denoising bound (encoder on a "
    "corrupted image) for the denoising VAE. A short schedule is far from converged: compare the two, not "
    "with the literature.",
    _table(header, rows),
    f"Lower is better: {best} by {abs(denoising - vae):.2f} nats.",
  )


def mixture_prior(runs: pathlib.Path, *, command: str) -> str:
  """reproduce_mixture_prior.sh: RUNS/mnist_mixture_vae (a learned mixture prior), *_standard_prior (N(0, I))."""
  rows = []
  for experiment, prior in (("mnist_mixture_vae_standard_prior", "N(0, I)"), ("mnist_mixture_vae", "mixture")):
    run = load_run(runs / experiment, walls=("train", "eval"))
    config = run["config"]
    prior = f"mixture of {config['model']['prior']['components']} Gaussians" if prior == "mixture" else prior
    one, many = (f"{run[k]:.3f}" if k in run else "n/a" for k in ("cluster_accuracy", "cluster_accuracy_many_to_one"))
    used = f"{run['cluster_components_used']}" if "cluster_components_used" in run else "n/a"
    rows.append(
      f"| {prior} | {config['train']['num_epochs']} | {run['output_neg_elbo_nats']:.2f} | {run['kl_nats']:.2f} "
      f"| {run['iw_nll_nats']:.2f} | {run['iw_samples']} / {run['iw_num_examples']} | {one} | {many} | {used} "
      f"| {run['train_minutes']:.1f} + {run['eval_minutes']:.1f} min |"
    )
  header = (
    "| prior | epochs | test -ELBO | KL | test NLL (IW) | k / images | cluster acc. (1:1) | cluster acc. (many:1) "
    "| components used | wall time (train + evaluate) |"
  )
  return _document(
    "A learned mixture prior against N(0, I): MLP VAE on dynamically binarized MNIST (test split)",
    f"Made by `{command.strip()}`. Nats per image; -ELBO and KL on all {run['num_examples']} test images "
    "(one posterior draw each; the mixture's KL is a Monte-Carlo estimate), NLL importance-weighted with k "
    "samples on the first test images. Cluster accuracy: the component most responsible for an image's "
    "posterior mean, mapped to labels one-to-one (Hungarian; unmatched components count as wrong) or "
    "many-to-one (each component to its majority label).",
    _table(header, rows),
  )


ABLATION = {
  "all_fixes": "reference L2 + batch-normalized label logits",
  "single_l2": "single L2 + batch-normalized label logits",
  "plain_label_head": "reference L2 + plain label head",
  "neither": "single L2 + plain label head (before the fixes)",
}


def ablation(runs: pathlib.Path, *, family: str = "vae", command: str) -> str:
  """ablate_reference_fixes.sh: RUNS/<family>_<name> for each of ABLATION (a reference-fidelity fix undone)."""
  rows = [
    f"| {what} | {run['reference_loss']:.3f} | {run['kl_nats']:.3f} | {run['output_neg_elbo_nats']:.3f} "
    f"| {run['label_error']:.2%} | {run['classifier_error_on_reconstructions']:.2%} | {run['train_minutes']:.1f} min |"
    for name, what in ABLATION.items()
    if (run := load_run(runs / f"{family}_{name}", optional=True, config=False, walls=("train",)))
  ]
  return _document(
    f"Which reference-fidelity fix moved what ({family.upper()}, samples 1)",
    f"Made by `{command.strip()}`: 2 epochs on the first 27,000 MNIST training images, learning rate 0.01 then "
    "0.001, batch-norm momentum 0.9; test metrics on all 10,000 test images after recomputing batch norm on 50 "
    "training batches. Test loss = the output decoder's BCE + its L2 term (once).",
    _table("| run | test loss | test KLD | -ELBO | label error | classifier error on recon. | train wall time |", rows),
  )


# table -> (function, default --runs, what it shows)
TABLES = {
  "dvae-table": (dvae_table, "runs/dvae_table", "the denoising-VAE table beside dojoteef/dvae's published cells"),
  "vae-gan": (vae_gan, "runs/vae_gan", "the learnable-loss VAE with and without its discriminator"),
  "autoencoders": (autoencoders, "runs/autoencoders", "the autoencoders of arunarn2/AutoEncoder and Hands-On ML"),
  "binarized-nll": (binarized_nll, "runs/binarized", "VAE vs DVAE in nats of test NLL on binarized MNIST"),
  "denoising-vae-nll": (denoising_vae_nll, "runs/denoising_vae", "Im et al. 2017's denoising VAE vs the VAE"),
  "mixture-prior": (mixture_prior, "runs/mixture_prior", "a learned mixture prior against N(0, I)"),
  "ablation": (ablation, "runs/ablation", "the reference VAE with each reference-fidelity fix undone"),
}


def main(argv: list[str] | None = None) -> int:
  """`python -m dvae_jax.reports TABLE [--runs DIR] [--out FILE] ...`: 0, or 1 after a one-line error."""
  argv = sys.argv[1:] if argv is None else argv
  parser = argparse.ArgumentParser(
    prog="python -m dvae_jax.reports",
    description="Writes a markdown table of finished runs (their eval_test.json) to stdout or --out.",
    epilog="tables:\n" + "\n".join(f"  {name:<18} {text} (--runs {runs})" for name, (_, runs, text) in TABLES.items()),
    formatter_class=argparse.RawDescriptionHelpFormatter,
  )
  parser.add_argument("table", choices=TABLES, metavar="TABLE", help="one of the tables below")
  parser.add_argument("--runs", type=pathlib.Path, help="the runs' folder (default: the table's, below)")
  parser.add_argument("--out", type=pathlib.Path, help="write the table to this file (default: stdout)")
  parser.add_argument("--command", help="the command the table says made it (default: this one)")
  parser.add_argument("--epochs-scale", type=float, default=1.0, help="dvae-table: the script's epochs factor")
  parser.add_argument("--family", default="vae", choices=("vae", "dvae"), help="ablation: the family (default vae)")
  args = parser.parse_args(argv)
  function, runs, _ = TABLES[args.table]
  options = {"command": args.command or " ".join([parser.prog, *argv])}
  if args.table == "dvae-table":
    from dvae_jax.benchmarking import hardware  # imports jax

    options.update(epochs_scale=args.epochs_scale, hardware=hardware())
  if args.table == "ablation":
    options["family"] = args.family
  try:
    text = function(args.runs or pathlib.Path(runs), **options)
  except WorkdirError as e:
    print(f"{parser.prog}: error: {e}", file=sys.stderr)
    return 1
  if args.out:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
  else:
    sys.stdout.write(text)
  return 0
