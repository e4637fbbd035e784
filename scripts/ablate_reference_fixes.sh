#!/usr/bin/env bash
# The same runs as a study, over seeds and with paired comparisons: experiments/studies/ablation.py
# (`dvae study run experiments/studies/ablation.py:VARIANT`, docs/studies.md). This script makes the
# single-run tables committed before the study tool.
# Which of the reference-fidelity fixes (docs/reference.md section 1) moved the reference VAE's
# numbers: the VAE at samples 1, trained as in the CPU table of reproduce_dvae_table.sh (2 epochs on
# the first 27,000 training images, batch-norm momentum 0.9), with each fix undone in turn:
#   all_fixes        the reference's L2 accounting and its batch-normalized label logits
#   single_l2        l2_scheme=single (one 5e-4 weight-decay term per step, as before)
#   plain_label_head label_batch_norm=false (an FC label head, as before)
#   neither          both undone: the code before the fixes
# Evaluated on the whole test set with batch norm recomputed on 50 training batches, judged by the
# classifier of CLASSIFIER (a workdir of experiments/mnist_classifier.py). Runs that already have an
# eval_test.json in RUNS are kept. Writes OUT/ablation.md (default OUT: RUNS/results; the committed
# table is results/dvae_table/ablation.md) and prints it.
#
#   scripts/ablate_reference_fixes.sh --classifier runs/dvae_table_cpu/mnist_classifier --runs runs/ablation
#   scripts/ablate_reference_fixes.sh --classifier C --runs runs/ablation --out results/dvae_table
#
# Options: --classifier WORKDIR, --runs DIR (default runs/ablation), --out DIR, --family vae|dvae
# (default vae). The table alone, from finished runs: python -m dvae_jax.reports ablation --runs DIR.
set -euo pipefail
usage() { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

args=("$@")
classifier="" runs=runs/ablation out="" family=vae
while [ $# -gt 0 ]; do
  case "$1" in
    --classifier) classifier=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --family) family=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1 (see $0 --help)" >&2; exit 2 ;;
  esac
done
out=${out:-$runs/results}

common=(--config.train.progress_bar=false --config.data.train_limit=27000 --config.train.num_epochs=2
  --config.optim.decay_epochs=1 --config.model.network.bn_momentum=0.9)
for spec in "all_fixes:" "single_l2:--config.model.l2_scheme=single" "plain_label_head:--config.model.label_batch_norm=false" \
  "neither:--config.model.l2_scheme=single --config.model.label_batch_norm=false"; do
  name=${spec%%:*} overrides=${spec#*:}
  workdir="$runs/${family}_$name"
  if [ ! -f "$workdir/eval_test.json" ]; then
    rm -rf "$workdir"
    start=$SECONDS
    # shellcheck disable=SC2086
    dvae train --config "experiments/mnist_${family}.py" --workdir "$workdir" "${common[@]}" $overrides
    echo $((SECONDS - start)) > "$workdir/train_wall_seconds"
    dvae evaluate --workdir "$workdir" --iw_samples 0 --recompute_batch_norm 50 \
      ${classifier:+--classifier_workdir "$classifier"}
  fi
done

python3 -m dvae_jax.reports ablation --runs "$runs" --family "$family" --out "$out/ablation.md" \
  --command "scripts/ablate_reference_fixes.sh ${args[*]:-}"
cat "$out/ablation.md"
