#!/usr/bin/env bash
# The learnable-loss comparison (issue 9; REFERENCE.md section 5): seed 003's dense VAE with and
# without its dense discriminator, BCE and L2 pixel losses, on MNIST and Fashion-MNIST, each for the
# same number of epochs; every run judged by a small MLP classifier trained on the same data
# (classifier error of reconstructions, classifier-feature Frechet distances). Writes
# results/vae_gan/table.md and the figures.
#
#   scripts/reproduce_vae_gan.sh                       # 50 epochs per run: the seed's length
#   scripts/reproduce_vae_gan.sh --epochs 5            # the CPU table in the README
#
# Options: --epochs N (every VAE run), --classifier-epochs N (default 5), --datasets "mnist fashion",
# --face-epochs N (default 0: skip; else the 64 x 64 face configs, experiments/faces_vae.py and
# faces_vae_gan.py:resnet, for N epochs on a stand-in folder: the Fashion-MNIST test images written
# as 64 x 64 RGB PNGs, since no face dataset is on these machines), --runs DIR (default
# runs/vae_gan), --out DIR (default results/vae_gan). Run from the repository root with the package
# installed (README.md).
set -euo pipefail

args=("$@")
epochs=50 classifier_epochs=5 face_epochs=0 datasets="mnist fashion" runs=runs/vae_gan out=results/vae_gan
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --classifier-epochs) classifier_epochs=$2; shift 2 ;;
    --face-epochs) face_epochs=$2; shift 2 ;;
    --datasets) datasets=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done

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

python3 scripts/vae_gan_table.py --runs "$runs" --out "$out/table.md" --command "scripts/reproduce_vae_gan.sh ${args[*]:-}"
cat "$out/table.md"
