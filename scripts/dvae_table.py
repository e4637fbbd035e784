"""Writes the denoising-VAE results table (markdown): each of our cells beside the published one.

Reads the runs that scripts/reproduce_dvae_table.sh trains and evaluates (eval_test.json,
config.json and train_wall_seconds in each workdir). Cells with no run stay empty ("-").

  python3 scripts/dvae_table.py --runs runs/dvae_table --out results/dvae_table.md
"""

import argparse
import datetime
import json
import os
import pathlib
import platform

import jax

from dvae_jax import published

# REFERENCE.md section 1 (dojoteef/dvae; one run per cell), kept in the package.
PUBLISHED = published.DVAE_TABLE
PUBLISHED_CLASSIFIER_ERROR = published.CLASSIFIER_ERROR
REFERENCE_EPOCHS = published.EPOCHS
NAMES = {"mnist": "MNIST", "cifar10": "CIFAR-10", "vae": "VAE", "dvae": "DVAE"}


def _load(workdir: pathlib.Path) -> dict | None:
  if not (workdir / "eval_test.json").exists():
    return None
  run = json.loads((workdir / "eval_test.json").read_text())
  config = json.loads((workdir / "config.json").read_text())
  wall = workdir / "train_wall_seconds"
  run["wall_seconds"] = float(wall.read_text()) if wall.exists() else None
  run["num_epochs"] = config["train"]["num_epochs"]
  run["train_limit"] = config["data"]["train_limit"]
  run["bn_momentum"] = config["model"]["network"]["bn_momentum"]
  return run


def _fmt(value: float | None, digits: int = 3) -> str:
  return "-" if value is None else f"{value:.{digits}f}"


def _wall(seconds: float | None) -> str:
  return "-" if seconds is None else f"{seconds / 60:.1f} min"


def _hardware() -> str:
  devices = jax.devices()
  cpu = platform.processor() or platform.machine()
  if pathlib.Path("/proc/cpuinfo").exists():
    names = [
      line.split(":", 1)[1].strip()
      for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
      if line.startswith("model name")
    ]
    cpu = names[0] if names else cpu
  kind = f"{len(devices)} x {devices[0].device_kind}" if devices[0].platform != "cpu" else "no accelerator"
  return f"{kind}; host CPU {cpu}, {os.cpu_count()} cores; jax {jax.__version__} ({devices[0].platform} backend)"


def table(runs: pathlib.Path, *, epochs_scale: float, command: str) -> str:
  lines = [
    "# Denoising VAE: published results vs this reimplementation",
    "",
    f"Made by `{command.strip()}` on {datetime.date.today().isoformat()}. Hardware: {_hardware()}.",
    "",
  ]
  runs_found = [run for name in sorted(os.listdir(runs)) if (run := _load(runs / name))] if runs.exists() else []
  if runs_found and (epochs_scale != 1 or runs_found[0]["train_limit"] or runs_found[0]["num_examples"] != 10_000):
    first = runs_found[0]
    lines += [
      "**Shortened schedule: these are not full-length reproductions.** "
      f"Epochs scaled by {epochs_scale} (the epochs column gives ours / the reference's), "
      + (f"training on the first {first['train_limit']} training images, " if first["train_limit"] else "")
      + f"test metrics on the first {first['num_examples']} test images"
      + (f", NLL on the first {first['iw_num_examples']}" if "iw_num_examples" in first else "")
      + "."
      + (
        f" Batch-norm momentum {first['bn_momentum']} instead of the reference's 0.999, whose running averages "
        "would still hold most of their initial values after so few steps."
        if first["bn_momentum"] != 0.999
        else ""
      )
      + (
        f" Before evaluation, batch norm's running statistics were recomputed with the final parameters on "
        f"{first['recomputed_batch_norm_batches']} training batches (`--recompute-bn`): a short run's running "
        "averages lag behind its still-moving weights."
        if first.get("recomputed_batch_norm_batches")
        else ""
      ),
      "",
    ]
  lines += [
    "Test loss = mean per-image BCE of a generator plus that generator's L2 term (5e-4 sum(w^2)/2, counted once, as "
    "the reference computes it; its value is in the L2 column). The reference's code logs the loss of both DVAE "
    "decoders and which one its table shows cannot be told: ours gives the DAE decoder's (the model's output) and "
    "the VAE decoder's. Test KLD = mean per-image KL; classifier error = error of the separately trained "
    "classifier on one stochastic reconstruction per test image. Test NLL = importance-weighted estimate of "
    "-log p(x) under the model's Bernoulli output (k samples; a bound on continuous [0,1] data, not a true NLL: see "
    "experiments/mnist_binarized_*.py for the binarized protocol). All in nats per image.",
    "",
    "| model | data | samples | test loss: published | ours | ours: DVAE's VAE decoder | L2 in ours "
    "| test KLD: published | ours | classifier error: published | ours | test NLL (IW, k) | epochs "
    "| train wall time |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ]
  for data in ("mnist", "cifar10"):
    for samples in (1, 5):
      for family in ("vae", "dvae"):
        loss, kld, error = PUBLISHED[(data, family, samples)]
        run = _load(runs / f"{data}_{family}_s{samples}") or {}
        ours_error = run.get("classifier_error_on_reconstructions")
        nll = f"{_fmt(run['iw_nll_nats'], 2)} (k={run['iw_samples']})" if "iw_nll_nats" in run else "-"
        if family == "dvae":
          vae_decoder = _fmt(run.get("reference_loss_vae_decoder"))
          l2 = f"{_fmt(run.get('reference_l2_dae_decoder'))} / {_fmt(run.get('reference_l2_vae_decoder'))}"
        else:
          vae_decoder, l2 = "(the output)", _fmt(run.get("reference_l2_decoder"))
        lines.append(
          f"| {NAMES[family]} | {NAMES[data]} | {samples} | {loss:.3f} | {_fmt(run.get('reference_loss'))} "
          f"| {vae_decoder} | {l2} | {kld:.3f} | {_fmt(run.get('kl_nats'))} | {error:.2f}% "
          f"| {'-' if ours_error is None else f'{100 * ours_error:.2f}%'} | {nll} "
          f"| {run.get('num_epochs', '-')} / {REFERENCE_EPOCHS[(data, 'model')]} | {_wall(run.get('wall_seconds'))} |"
        )
  lines += [
    "",
    "Classifier error on real test images:",
    "",
    "| data | published | ours | epochs | train wall time |",
    "|---|---|---|---|---|",
  ]
  for data in ("mnist", "cifar10"):
    run = _load(runs / f"{data}_classifier") or {}
    ours = "-" if "label_error" not in run else f"{100 * run['label_error']:.2f}%"
    lines.append(
      f"| {NAMES[data]} | {PUBLISHED_CLASSIFIER_ERROR[data]:.2f}% | {ours} "
      f"| {run.get('num_epochs', '-')} / {REFERENCE_EPOCHS[(data, 'classifier')]} "
      f"| {_wall(run.get('wall_seconds'))} |"
    )
  return "\n".join(lines) + "\n"


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--runs", type=pathlib.Path, default=pathlib.Path("runs/dvae_table"))
  parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("results/dvae_table.md"))
  parser.add_argument("--epochs-scale", type=float, default=1.0)
  parser.add_argument("--command", default="scripts/reproduce_dvae_table.sh")
  args = parser.parse_args()
  args.out.parent.mkdir(parents=True, exist_ok=True)
  args.out.write_text(table(args.runs, epochs_scale=args.epochs_scale, command=args.command))
  print(args.out)


if __name__ == "__main__":
  main()
