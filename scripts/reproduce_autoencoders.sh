#!/usr/bin/env bash
# The same runs as a study, over seeds and with paired comparisons: experiments/studies/autoencoders.py
# (`dvae study run experiments/studies/autoencoders.py:VARIANT`, docs/studies.md). This script makes the
# single-run tables committed before the study tool.
# The autoencoders of arunarn2/AutoEncoder and Hands-On ML (Geron's autoencoder chapter;
# docs/reference.md sections 3 and 4) on real MNIST: trains and evaluates
# experiments/mnist_{conv_dae,mlp_dae_gaussian,mlp_dae_dropout,conv_ae,sparse_ae_l1,sparse_ae_kl}.py
# and prints a markdown table of their test metrics (each run's eval_test.json), also written to
# OUT/autoencoders.md (default OUT: RUNS; the committed table is results/autoencoders/).
#
#   scripts/reproduce_autoencoders.sh --runs runs/autoencoders          # short schedules: 6-11 min on 2 CPU cores
#   scripts/reproduce_autoencoders.sh --runs runs/autoencoders --full   # the configs' own schedules (GPU)
#
# The short schedules (the default) keep each run under ~6 minutes on a shared 2-core CPU. The MLP
# autoencoders keep Hands-On ML's 10 epochs; the conv AE trains 2 epochs (Hands-On ML: 10), and
# arunarn2/AutoEncoder's conv DAE, at ~1.3 GFLOP per training image, 1 epoch on the first 3200
# training images (arunarn2/AutoEncoder: 25 epochs of 55000) at Adam 1e-3 (the config's `fast`
# variant: Adam's steps scale with the rate, and the original's 1e-5, the config's default and
# --full's, would move the weights 100 times less in these 50 steps), validated and tested on the
# first 500 images; the others are tested on all 10000. The table says which schedule each row
# had. Options:
# --runs DIR (default runs/autoencoders), --full, --out DIR. PYTHON picks the interpreter (default
# python3); run from the repository root, with the data in $DVAE_DATA_DIR (or downloadable). The
# table alone, from finished runs: python -m dvae_jax.reports autoencoders --runs DIR.
set -euo pipefail
usage() { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

args=("$@")
runs=runs/autoencoders full=false out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --full) full=true; shift ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1 (see $0 --help)" >&2; exit 2 ;;
  esac
done
out=${out:-$runs}
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

run mnist_conv_dae --config.train.num_epochs=1 --config.data.train_limit=3200 --config.data.eval_limit=500 \
  --config.optim.learning_rate=1e-3
run mnist_mlp_dae_gaussian
run mnist_mlp_dae_dropout
run mnist_conv_ae --config.train.num_epochs=2
run mnist_sparse_ae_l1
run mnist_sparse_ae_kl

"${PYTHON:-python3}" -m dvae_jax.reports autoencoders --runs "$runs" --out "$out/autoencoders.md" \
  --command "scripts/reproduce_autoencoders.sh ${args[*]:-}"
cat "$out/autoencoders.md"
