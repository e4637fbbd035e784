#!/usr/bin/env bash
# The same runs as a study, over seeds and with paired comparisons: experiments/studies/denoising_vae_nll.py
# (`dvae study run experiments/studies/denoising_vae_nll.py:VARIANT`, docs/studies.md). This script makes the
# single-run tables committed before the study tool.
# Im et al. 2017's denoising VAE vs the plain VAE with the same network, data and budget, in nats of
# test NLL (docs/reference.md section 2): trains experiments/mnist_binarized_{denoising_vae,mlp_vae}.py
# on dynamically binarized MNIST, estimates -log p(x) on the test set with k importance samples from
# q(z|x) of the clean image, and prints (and writes to --out FILE, default
# RUNS/results/denoising_vae_nll.md; the committed table is results/denoising_vae_nll/) a markdown table.
#
#   scripts/reproduce_denoising_vae.sh                          # the full schedule (200 epochs), k = 5000
#   scripts/reproduce_denoising_vae.sh --epochs 2 --lr 1e-3 --iw-samples 500 --iw-limit 1000 \
#     --runs /tmp/idvae/runs                                    # ~3-5 min per model on 2 shared CPU cores
#
# Options: --epochs N, --lr LR, --seed S (a replicate: another init, data order and noise),
# --train-limit N, --iw-samples K (default 5000), --iw-limit N, --runs DIR (default
# runs/denoising_vae), --out FILE. Run from the repository root. $PYTHON (default: python) must have
# the package's dependencies; `python -m dvae_jax.main` runs this checkout's code. The table alone,
# from finished runs: python -m dvae_jax.reports denoising-vae-nll --runs DIR.
set -euo pipefail
usage() { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

args=("$@")
epochs="" lr="" seed="" train_limit="" iw_samples=5000 iw_limit="" runs=runs/denoising_vae out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --lr) lr=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --train-limit) train_limit=$2; shift 2 ;;
    --iw-samples) iw_samples=$2; shift 2 ;;
    --iw-limit) iw_limit=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1 (see $0 --help)" >&2; exit 2 ;;
  esac
done
out=${out:-$runs/results/denoising_vae_nll.md}
python=${PYTHON:-python}

overrides=(--config.train.progress_bar=false)
[ -n "$epochs" ] && overrides+=(--config.train.num_epochs="$epochs")
[ -n "$lr" ] && overrides+=(--config.optim.learning_rate="$lr")
[ -n "$seed" ] && overrides+=(--config.seed="$seed")  # a replicate: another init, data order and noise
[ -n "$train_limit" ] && overrides+=(--config.data.train_limit="$train_limit")
[ -n "$iw_limit" ] && overrides+=(--config.eval.iw_limit="$iw_limit")

for name in denoising_vae mlp_vae; do
  workdir="$runs/mnist_binarized_$name"
  rm -rf "$workdir"
  start=$SECONDS
  "$python" -m dvae_jax.main train --config "experiments/mnist_binarized_$name.py" --workdir "$workdir" "${overrides[@]}"
  echo $((SECONDS - start)) > "$workdir/train_wall_seconds"
  start=$SECONDS
  # The workdir's config.json holds the overrides (eval.iw_limit included).
  "$python" -m dvae_jax.main evaluate --workdir "$workdir" --iw_samples "$iw_samples"
  echo $((SECONDS - start)) > "$workdir/eval_wall_seconds"
done

"$python" -m dvae_jax.reports denoising-vae-nll --runs "$runs" --out "$out" \
  --command "scripts/reproduce_denoising_vae.sh ${args[*]:-}"
cat "$out"
