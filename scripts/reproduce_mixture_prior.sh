#!/usr/bin/env bash
# The same runs as a study, over seeds and with paired comparisons: experiments/studies/mixture_prior.py
# (`dvae study run experiments/studies/mixture_prior.py:VARIANT`, docs/studies.md). This script makes the
# single-run tables committed before the study tool.
# A learned Gaussian-mixture prior against N(0, I) (GMVAE, docs/reference.md section 7): trains the
# flax-example MLP VAE on dynamically binarized MNIST with each prior (experiments/mnist_mixture_vae.py
# and its twin experiments/mnist_mixture_vae_standard_prior.py: same network, data and budget),
# evaluates both (test -ELBO and KL on all 10,000 test images, the importance-weighted NLL with k
# samples on the first test images, and the mixture components' cluster accuracy), and prints one
# table, also written to OUT/mixture_prior.md (default OUT: RUNS/results; the committed table is
# results/mixture_prior/).
#
#   scripts/reproduce_mixture_prior.sh       # the configs as they are: 10 epochs, k = 1000 on 1000 images
#   scripts/reproduce_mixture_prior.sh --epochs 50 --iw-samples 5000 --iw-limit 10000   # longer (GPU)
#
# Options: --epochs N, --iw-samples K (default 1000), --iw-limit N, --runs DIR (default
# runs/mixture_prior), --out DIR. Run from the repository root; PYTHON (default python3) must import
# dvae_jax's dependencies, and the data come from $DVAE_DATA_DIR as for `dvae train`. The table
# alone, from finished runs: python -m dvae_jax.reports mixture-prior --runs DIR.
set -euo pipefail
usage() { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

args=("$@")
epochs="" iw_samples=1000 iw_limit="" runs=runs/mixture_prior out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --iw-samples) iw_samples=$2; shift 2 ;;
    --iw-limit) iw_limit=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1 (see $0 --help)" >&2; exit 2 ;;
  esac
done
out=${out:-$runs/results}
dvae() { "${PYTHON:-python3}" -m dvae_jax.main "$@"; }

overrides=(--config.train.progress_bar=false)
[ -n "$epochs" ] && overrides+=(--config.train.num_epochs="$epochs")
[ -n "$iw_limit" ] && overrides+=(--config.eval.iw_limit="$iw_limit")

for experiment in mnist_mixture_vae mnist_mixture_vae_standard_prior; do
  workdir="$runs/$experiment"
  rm -rf "$workdir"
  start=$SECONDS
  dvae train --config "experiments/$experiment.py" --workdir "$workdir" "${overrides[@]}"
  echo $((SECONDS - start)) > "$workdir/train_wall_seconds"
  start=$SECONDS
  dvae evaluate --workdir "$workdir" --iw_samples "$iw_samples"
  echo $((SECONDS - start)) > "$workdir/eval_wall_seconds"
done

"${PYTHON:-python3}" -m dvae_jax.reports mixture-prior --runs "$runs" --out "$out/mixture_prior.md" \
  --command "scripts/reproduce_mixture_prior.sh ${args[*]:-}"
cat "$out/mixture_prior.md"
