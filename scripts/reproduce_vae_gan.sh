#!/usr/bin/env bash
# The same runs as a study, over seeds and with paired comparisons: experiments/studies/learnable_loss.py
# (`dvae study run experiments/studies/learnable_loss.py:VARIANT`, docs/studies.md). This script makes the
# single-run tables committed before the study tool.
# The learnable-loss comparison (xuganyu96/VAE-GAN-learnable-loss, docs/reference.md section 6): the
# learnable-loss VAE's dense VAE with and without its dense discriminator, BCE and L2 pixel losses, on
# MNIST and Fashion-MNIST, each for the same number of epochs; every run judged by a small MLP
# classifier trained on the same data (classifier error of reconstructions, classifier-feature
# Frechet distances). Writes OUT/table.md and the figures in OUT/figures (default OUT: RUNS/results;
# the committed table is results/learnable_loss/).
#
#   scripts/reproduce_vae_gan.sh                       # 50 epochs per run: the learnable-loss VAE's length
#   scripts/reproduce_vae_gan.sh --epochs 5            # the CPU table in the README
#
# Options: --epochs N (every VAE run), --classifier-epochs N (default 5), --datasets "mnist fashion",
# --face-epochs N (default 0: skip; else the 64 x 64 face configs, experiments/faces_vae.py and
# faces_vae_gan.py:resnet, for N epochs on a stand-in folder: the Fashion-MNIST test images written
# as 64 x 64 RGB PNGs, since no face dataset is on these machines), --runs DIR (default
# runs/vae_gan), --out DIR (default RUNS/results). Run from the repository root with the package
# installed (README.md). The table alone, from finished runs: python -m dvae_jax.reports vae-gan.
set -euo pipefail
usage() { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

args=("$@")
epochs=50 classifier_epochs=5 face_epochs=0 datasets="mnist fashion" runs=runs/vae_gan out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --classifier-epochs) classifier_epochs=$2; shift 2 ;;
    --face-epochs) face_epochs=$2; shift 2 ;;
    --datasets) datasets=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1 (see $0 --help)" >&2; exit 2 ;;
  esac
done
out=${out:-$runs/results}

train() {  # train WORKDIR CONFIG EPOCHS [overrides...]: a fresh run, timed
  local workdir=$1 config=$2 num_epochs=$3
  shift 3
  rm -rf "$workdir"
  local start=$SECONDS
  dvae train --config "$config" --workdir "$workdir" --config.train.num_epochs="$num_epochs" \
    --config.train.progress_bar=false "$@"
  echo $((SECONDS - start)) > "$workdir/train_wall_seconds"
}

for data in $datasets; do
  variant=""; [ "$data" = fashion ] && variant="fashion"
  classifier="$runs/${data}_classifier"
  train "$classifier" "experiments/mnist_feature_classifier.py${variant:+:$variant}" "$classifier_epochs"
  dvae evaluate --workdir "$classifier" --iw_samples 0
  for pbp in bce l2; do
    for model in dense_vae vae_gan; do
      name="${data}_${model}_${pbp}"
      train "$runs/$name" "experiments/mnist_${model}.py:${pbp}${variant:+,$variant}" "$epochs"
      dvae evaluate --workdir "$runs/$name" --classifier_workdir "$classifier" --iw_samples 0
    done
    dvae plot --run "VAE=$runs/${data}_dense_vae_${pbp}" --run "VAE+D=$runs/${data}_vae_gan_${pbp}" \
      --out "$out/figures/${data}_${pbp}"
  done
done

if [ "$face_epochs" -gt 0 ]; then
  folder="$runs/fashion64_png"
  [ -d "$folder" ] || python3 scripts/make_image_folder.py --dataset fashion_mnist --split test --size 64 --rgb --out "$folder"
  face=(--config.data.path="$folder" --config.data.cache_dir="$runs/image_folder_cache")
  train "$runs/faces_vae" experiments/faces_vae.py "$face_epochs" "${face[@]}"
  dvae evaluate --workdir "$runs/faces_vae"
  train "$runs/faces_vae_gan_resnet" experiments/faces_vae_gan.py:resnet "$face_epochs" "${face[@]}"
  dvae evaluate --workdir "$runs/faces_vae_gan_resnet"
  dvae plot --run "VAE=$runs/faces_vae" --run "VAE+ResNet D=$runs/faces_vae_gan_resnet" --out "$out/figures/faces_fashion64"
fi

python3 -m dvae_jax.reports vae-gan --runs "$runs" --out "$out/table.md" --command "scripts/reproduce_vae_gan.sh ${args[*]:-}"
cat "$out/table.md"
