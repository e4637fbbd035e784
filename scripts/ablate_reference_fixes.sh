#!/usr/bin/env bash
# Which of issue 8's reference-fidelity fixes moved the reference VAE's numbers: the VAE at
# samples 1, trained as in the CPU table of reproduce_dvae_table.sh (2 epochs on the first 27,000
# training images, batch-norm momentum 0.9), with each fix undone in turn:
#   all_fixes        the reference's L2 accounting and its batch-normalized label logits
#   single_l2        l2_scheme=single (one 5e-4 weight-decay term per step, as before)
#   plain_label_head label_batch_norm=false (an FC label head, as before)
#   neither          both undone: the code before the fixes
# Evaluated on the whole test set with batch norm recomputed on 50 training batches, judged by the
# classifier of CLASSIFIER (a workdir of experiments/mnist_classifier.py). Writes OUT/ablation.md.
#
#   scripts/ablate_reference_fixes.sh --classifier runs/dvae_table_cpu/mnist_classifier --runs runs/ablation --out results/issue8
set -euo pipefail

args=("$@")
classifier="" runs=runs/ablation out=results/issue8 family=vae
while [ $# -gt 0 ]; do
  case "$1" in
    --classifier) classifier=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --family) family=$2; shift 2 ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done

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

mkdir -p "$out"
python3 - "$runs" "$family" "$out/ablation.md" "scripts/ablate_reference_fixes.sh ${args[*]:-}" <<'PY'
import json, pathlib, sys
runs, family, out, command = pathlib.Path(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3]), sys.argv[4]
rows = [
  ("all_fixes", "reference L2 + batch-normalized label logits"),
  ("single_l2", "single L2 + batch-normalized label logits"),
  ("plain_label_head", "reference L2 + plain label head"),
  ("neither", "single L2 + plain label head (before the fixes)"),
]
lines = [
  f"# Which reference-fidelity fix moved what ({family.upper()}, samples 1)", "",
  f"Made by `{command.strip()}`: 2 epochs on the first 27,000 MNIST training images, learning rate 0.01 then "
  "0.001, batch-norm momentum 0.9; test metrics on all 10,000 test images after recomputing batch norm on 50 "
  "training batches. Test loss = the output decoder's BCE + its L2 term (once).", "",
  "| run | test loss | test KLD | -ELBO | label error | classifier error on recon. | train wall time |",
  "|---|---|---|---|---|---|---|",
]
for name, what in rows:
  path = runs / f"{family}_{name}" / "eval_test.json"
  if not path.exists():
    continue
  r = json.loads(path.read_text())
  wall = runs / f"{family}_{name}" / "train_wall_seconds"
  error = r.get("classifier_error_on_reconstructions")
  lines.append(
    f"| {what} | {r['reference_loss']:.3f} | {r['kl_nats']:.3f} | {r['output_neg_elbo_nats']:.3f} "
    f"| {100 * r['label_error']:.2f}% | {'-' if error is None else f'{100 * error:.2f}%'} "
    f"| {int(wall.read_text()) / 60:.1f} min |"
  )
out.write_text("\n".join(lines) + "\n")
print(out.read_text())
PY
