#!/usr/bin/env bash
# The same runs as a study, over seeds and with paired comparisons: experiments/studies/dvae_table.py
# (`dvae study run experiments/studies/dvae_table.py:VARIANT`, docs/studies.md). This script makes the
# single-run tables committed before the study tool.
# Reproduces the denoising-VAE results table of dojoteef/dvae (docs/reference.md section 1): trains
# the evaluation classifier, then the VAE and the DVAE for samples 1 and 5, on MNIST (and CIFAR-10
# when its files are in the data directory), evaluates them, and writes OUT/dvae_table.md and
# OUT/figures (default OUT: RUNS/results; the committed tables are results/dvae_table/,
# results/dvae_table_quick/ and results/dvae_table_before_fixes/).
#
#   scripts/reproduce_dvae_table.sh                  # the full reference schedule (GPU: an H200 or similar)
#   scripts/reproduce_dvae_table.sh --quick          # smallest scale: < 15 min on 2 CPU cores
#   scripts/reproduce_dvae_table.sh --epochs-scale 0.1 --iw-samples 1000
#
# Options: --epochs-scale S (multiplies every run's epochs and decay interval; 1 = reference),
# --train-limit N (train on the first N training images), --eval-limit N (validate and test on the
# first N images), --iw-samples K and --iw-limit N (importance samples for the test NLL, and on how
# many test images), --bn-momentum M (batch norm's running-average momentum; the reference's 0.999
# needs thousands of steps to forget its initial statistics, so short schedules need less),
# --recompute-bn N (before evaluating, recompute batch norm's running statistics with the final
# parameters on N training batches: for short schedules, whose running averages lag; 0 = as trained),
# --evaluate-only (evaluate the runs already in --runs again, e.g. with another --recompute-bn, and
# rewrite the table; no training), --keep-finished (train only the runs that have not finished in
# --runs, e.g. to add cells to a table stopped part-way; every run is evaluated again), --runs DIR
# (default runs/dvae_table), --out DIR (default RUNS/results).
# A shortened schedule is labelled as such in the table. Run from the repository root, with the
# package installed (README.md). The table alone, from finished runs:
# python -m dvae_jax.reports dvae-table --runs DIR --epochs-scale S.
set -euo pipefail
usage() { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

args=("$@")
scale=1 train_limit="" eval_limit="" iw_samples=5000 iw_limit="" bn_momentum="" recompute_bn=0 evaluate_only=0 keep_finished=0
runs=runs/dvae_table out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) scale=0.008 train_limit=4800 eval_limit=2000 iw_samples=100 iw_limit=200 bn_momentum=0.9 recompute_bn=50; shift ;;
    --epochs-scale) scale=$2; shift 2 ;;
    --train-limit) train_limit=$2; shift 2 ;;
    --eval-limit) eval_limit=$2; shift 2 ;;
    --iw-samples) iw_samples=$2; shift 2 ;;
    --iw-limit) iw_limit=$2; shift 2 ;;
    --bn-momentum) bn_momentum=$2; shift 2 ;;
    --recompute-bn) recompute_bn=$2; shift 2 ;;
    --evaluate-only) evaluate_only=1; shift ;;
    --keep-finished) keep_finished=1; shift ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1 (see $0 --help)" >&2; exit 2 ;;
  esac
done
out=${out:-$runs/results}

scaled() {  # scaled EPOCHS -> max(1, round(EPOCHS * scale)), halves to even
  awk -v epochs="$1" -v scale="$scale" 'BEGIN { n = sprintf("%.0f", epochs * scale) + 0; print (n < 1 ? 1 : n) }'
}

common=(--config.train.progress_bar=false --config.eval.iw_samples="$iw_samples")
[ -n "$train_limit" ] && common+=(--config.data.train_limit="$train_limit")
[ -n "$eval_limit" ] && common+=(--config.data.eval_limit="$eval_limit")
[ -n "$iw_limit" ] && common+=(--config.eval.iw_limit="$iw_limit")
[ -n "$bn_momentum" ] && common+=(--config.model.network.bn_momentum="$bn_momentum")

train() {  # train NAME CONFIG EPOCHS DECAY_EPOCHS [overrides...]: a fresh run, timed
  local name=$1 config=$2 epochs decay workdir="$runs/$1"
  epochs=$(scaled "$3") decay=$(scaled "$4")
  shift 4
  [ "$evaluate_only" = 1 ] && return
  if [ "$keep_finished" = 1 ] && [ -f "$workdir/train_wall_seconds" ]; then
    echo "== $name: finished in $workdir, kept"
    return
  fi
  rm -rf "$workdir"
  echo "== $name: $config, $epochs epochs (decay every $decay)"
  local start=$SECONDS
  dvae train --config "$config" --workdir "$workdir" "${common[@]}" \
    --config.train.num_epochs="$epochs" --config.optim.decay_epochs="$decay" "$@"
  echo $((SECONDS - start)) > "$workdir/train_wall_seconds"
}

evaluate() {  # evaluate NAME [CLASSIFIER]
  local classifier=()
  [ $# -gt 1 ] && classifier=(--classifier_workdir "$runs/$2")
  dvae evaluate --workdir "$runs/$1" "${classifier[@]}" --iw_samples "$iw_samples" --recompute_batch_norm "$recompute_bn"
}

datasets=(mnist)
data_dir=${DVAE_DATA_DIR:-$HOME/.cache/dvae_jax/data}  # as `dvae train` resolves it
if ls "$data_dir"/cifar10/test_batch.bin "$data_dir"/cifar10/cifar-10-batches-bin/test_batch.bin >/dev/null 2>&1; then
  datasets+=(cifar10)
else
  echo "CIFAR-10 files not found in $data_dir/cifar10: its rows stay empty."
fi

for data in "${datasets[@]}"; do
  if [ "$data" = mnist ]; then clf_epochs=60 clf_decay=15 epochs=250 decay=50; else clf_epochs=250 clf_decay=50 epochs=500 decay=200; fi
  train "${data}_classifier" "experiments/${data}_classifier.py" $clf_epochs $clf_decay
  evaluate "${data}_classifier"
  for samples in 1 5; do
    for family in vae dvae; do
      name="${data}_${family}_s${samples}"
      train "$name" "experiments/${data}_${family}.py" $epochs $decay --config.model.samples=$samples
      evaluate "$name" "${data}_classifier"
    done
  done
  for samples in 1 5; do
    dvae plot --run "VAE=$runs/${data}_vae_s${samples}" --run "DVAE=$runs/${data}_dvae_s${samples}" \
      --out "$out/figures/${data}_samples${samples}"
  done
done

python3 -m dvae_jax.reports dvae-table --runs "$runs" --out "$out/dvae_table.md" --epochs-scale "$scale" \
  --command "scripts/reproduce_dvae_table.sh ${args[*]:-}"
cat "$out/dvae_table.md"
