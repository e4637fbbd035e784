#!/usr/bin/env bash
# The autoencoders of seeds 001 and 004 (REFERENCE.md section 3) on real MNIST: trains and evaluates
# experiments/mnist_{conv_dae,mlp_dae_gaussian,mlp_dae_dropout,conv_ae,sparse_ae_l1,sparse_ae_kl}.py
# and prints a markdown table of their test metrics (each run's eval_test.json), also written to
# RUNS/autoencoders.md.
#
#   scripts/reproduce_autoencoders.sh --runs runs/autoencoders          # short schedules: 6-11 min on 2 CPU cores
#   scripts/reproduce_autoencoders.sh --runs runs/autoencoders --full   # the configs' own schedules (GPU)
#
# The short schedules (the default) keep each run under ~6 minutes on a shared 2-core CPU. The MLP
# autoencoders keep the seed's 10 epochs; the conv AE trains 2 epochs (the seed: 10), and seed 001's
# conv DAE, at ~1.3 GFLOP per training image, 1 epoch on the first 3200 training images (the seed:
# 25 epochs of 55000), validated and tested on the first 500 images; the others are tested on all
# 10000. The table says which schedule each row had. PYTHON picks the interpreter (default python3);
# run from the repository root, with the data in $DVAE_DATA_DIR (or downloadable).
set -euo pipefail

args=("$@")
runs=runs/autoencoders full=false
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --full) full=true; shift ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
dvae=("${PYTHON:-python3}" -m dvae_jax.main)

run() {  # run NAME [short-schedule overrides...]: a fresh training, timed, then its test evaluation
  local name=$1 workdir="$runs/$1"
  shift
  local overrides=(--config.train.progress_bar=false)
  [ "$full" = false ] && overrides+=("$@")
  rm -rf "$workdir"
  echo "== $name ${overrides[*]}"
  local start=$SECONDS
  "${dvae[@]}" train --config "experiments/$name.py" --workdir "$workdir" "${overrides[@]}"
  echo $((SECONDS - start)) > "$workdir/train_wall_seconds"
  start=$SECONDS
  "${dvae[@]}" evaluate --workdir "$workdir" --iw_samples 0
  echo $((SECONDS - start)) > "$workdir/eval_wall_seconds"
}

run mnist_conv_dae --config.train.num_epochs=1 --config.data.train_limit=3200 --config.data.eval_limit=500
run mnist_mlp_dae_gaussian
run mnist_mlp_dae_dropout
run mnist_conv_ae --config.train.num_epochs=2
run mnist_sparse_ae_l1
run mnist_sparse_ae_kl

"${PYTHON:-python3}" - "$runs" "scripts/reproduce_autoencoders.sh ${args[*]:-}" <<'PY'
import json, pathlib, sys

runs, command = pathlib.Path(sys.argv[1]), sys.argv[2]
names = ("mnist_conv_dae", "mnist_mlp_dae_gaussian", "mnist_mlp_dae_dropout", "mnist_conv_ae",
         "mnist_sparse_ae_l1", "mnist_sparse_ae_kl")
rows = []
for name in names:
  workdir = runs / name
  result = json.loads((workdir / "eval_test.json").read_text())
  config = json.loads((workdir / "config.json").read_text())
  model = config["model"]
  corruption = model["corruption"]
  noise = ", ".join(f"{k} {v}" for k, v in corruption.items() if k != "name")
  sparsity = model["sparsity"]
  penalty = ", ".join(f"{k} {v:.4g}" for k, v in sparsity.items() if k != "name")
  noisy = f"{result['noisy_psnr_db']:.2f}" if "noisy_psnr_db" in result else "-"
  gain = f"{result['psnr_db'] - result['noisy_psnr_db']:+.2f}" if "noisy_psnr_db" in result else "-"
  epochs = config["train"]["num_epochs"]
  images = result["step"] // epochs * config["train"]["batch_size"]  # per epoch (full batches)
  train_s = float((workdir / "train_wall_seconds").read_text())
  eval_s = float((workdir / "eval_wall_seconds").read_text())
  rows.append(
    f"| {name} | {model['network']['name']} | {corruption['name']}{f' ({noise})' if noise else ''} "
    f"| {sparsity['name']}{f' ({penalty})' if penalty else ''} | {epochs} x {images} "
    f"| {result['num_examples']} | {result['recon_mse']:.2f} | {result['psnr_db']:.2f} | {noisy} | {gain} "
    f"| {result['code_mean_activation']:.4f} | {result['code_active_fraction']:.4f} | {result['sparsity_penalty']:.4f} "
    f"| {train_s / 60:.1f} / {eval_s / 60:.1f} min |"
  )
table = (
  "# Autoencoders of seeds 001 and 004 on MNIST (test split)\n\n"
  f"Made by `{command.strip()}`. Per test image, averaged: `recon MSE` is the sum over the 784 pixels of "
  "(sigmoid(logits) - clean)^2; PSNR = 10 log10(1 / per-pixel MSE), in dB, for the output and for the "
  "corrupted input, both against the clean image (the input is corrupted in evaluation too); the code's "
  "mean activation (over units), the fraction of its units above 0.1, and the sparsity penalty added to "
  "the objective (nats).\n\n"
  "| experiment | network | corruption | sparsity | epochs x training images | test images | recon MSE "
  "| PSNR output (dB) | PSNR noisy input (dB) | gain (dB) | code mean activation | code active fraction "
  "| sparsity penalty | wall time train / eval |\n"
  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
)
(runs / "autoencoders.md").write_text(table)
print(table)
PY
