#!/usr/bin/env bash
# The same runs as a study, over seeds and with paired comparisons: experiments/studies/binarized_nll.py
# (`dvae study run experiments/studies/binarized_nll.py:VARIANT`, docs/studies.md). This script makes the
# single-run tables committed before the study tool.
# VAE vs DVAE in nats of test NLL: trains the reference architectures on dynamically binarized
# MNIST (experiments/mnist_binarized_{vae,dvae}.py), estimates -log p(x) on the test set with k
# importance samples, and writes OUT/binarized_nll.md beside the IWAE-paper anchors (docs/reference.md
# section 8; default OUT: RUNS/results; the committed table is results/binarized_nll/).
#
#   scripts/reproduce_binarized_nll.sh                       # the full schedule, k = 5000 (GPU)
#   scripts/reproduce_binarized_nll.sh --epochs 2 --train-limit 27000 --iw-samples 200 --iw-limit 500 \
#     --bn-momentum 0.99                                      # what fits on 2 CPU cores (~20 min)
#
# Options: --epochs N, --train-limit N, --iw-samples K (default 5000), --iw-limit N, --bn-momentum M,
# --runs DIR (default runs/binarized), --out DIR. Run from the repository root with the package
# installed (README.md). The table alone, from finished runs: python -m dvae_jax.reports binarized-nll.
set -euo pipefail
usage() { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

args=("$@")
epochs="" train_limit="" iw_samples=5000 iw_limit="" bn_momentum="" runs=runs/binarized out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --train-limit) train_limit=$2; shift 2 ;;
    --iw-samples) iw_samples=$2; shift 2 ;;
    --iw-limit) iw_limit=$2; shift 2 ;;
    --bn-momentum) bn_momentum=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1 (see $0 --help)" >&2; exit 2 ;;
  esac
done
out=${out:-$runs/results}

overrides=(--config.train.progress_bar=false)
[ -n "$epochs" ] && overrides+=(--config.train.num_epochs="$epochs" --config.optim.decay_epochs=$(( (epochs + 1) / 2 )))
[ -n "$train_limit" ] && overrides+=(--config.data.train_limit="$train_limit")
[ -n "$iw_limit" ] && overrides+=(--config.eval.iw_limit="$iw_limit")
[ -n "$bn_momentum" ] && overrides+=(--config.model.network.bn_momentum="$bn_momentum")

for family in vae dvae; do
  workdir="$runs/mnist_binarized_$family"
  rm -rf "$workdir"
  start=$SECONDS
  dvae train --config "experiments/mnist_binarized_$family.py" --workdir "$workdir" "${overrides[@]}"
  echo $((SECONDS - start)) > "$workdir/train_wall_seconds"
  dvae evaluate --workdir "$workdir" --iw_samples "$iw_samples"
done

python3 -m dvae_jax.reports binarized-nll --runs "$runs" --out "$out/binarized_nll.md" \
  --command "scripts/reproduce_binarized_nll.sh ${args[*]:-}"
cat "$out/binarized_nll.md"
