#!/usr/bin/env bash
# VAE vs DVAE in nats of test NLL: trains the reference architectures on dynamically binarized
# MNIST (experiments/mnist_binarized_{vae,dvae}.py), estimates -log p(x) on the test set with k
# importance samples, and writes results/binarized_nll.md beside the IWAE-paper anchors.
#
#   scripts/reproduce_binarized_nll.sh                       # the full schedule, k = 5000 (GPU)
#   scripts/reproduce_binarized_nll.sh --epochs 2 --train-limit 27000 --iw-samples 200 --iw-limit 500 \
#     --bn-momentum 0.99                                      # what fits on 2 CPU cores (~20 min)
#
# Run from the repository root with the package installed (README.md).
set -euo pipefail

args=("$@")
epochs="" train_limit="" iw_samples=5000 iw_limit="" bn_momentum="" runs=runs/binarized out=results
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --train-limit) train_limit=$2; shift 2 ;;
    --iw-samples) iw_samples=$2; shift 2 ;;
    --iw-limit) iw_limit=$2; shift 2 ;;
    --bn-momentum) bn_momentum=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done

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

mkdir -p "$out"
python3 - "$runs" "$out/binarized_nll.md" "scripts/reproduce_binarized_nll.sh ${args[*]:-}" <<'PY'
import json, pathlib, sys
runs, out, command = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
rows = []
for family in ("vae", "dvae"):
  workdir = runs / f"mnist_binarized_{family}"
  result = json.loads((workdir / "eval_test.json").read_text())
  config = json.loads((workdir / "config.json").read_text())
  wall = float((workdir / "train_wall_seconds").read_text())
  rows.append(
    f"| {family.upper()} (reference architecture) | {result['iw_nll_nats']:.2f} | {result['iw_samples']} "
    f"| {result['iw_num_examples']} | {result['output_recon_nats'] + result['kl_nats']:.2f} | {config['train']['num_epochs']} / 250 "
    f"| {config['data']['train_limit'] or 54000} | {wall / 60:.1f} min |"
  )
out.write_text(
  "# Test NLL on dynamically binarized MNIST (nats per image)\n\n"
  f"Made by `{command.strip()}`. The IWAE-paper anchors (Burda et al. 2015, k = 5000 importance samples, "
  "full schedules of 3280 epochs): one-stochastic-layer VAE 86.76, IWAE k=50 84.78. Ours are measured, on the "
  "schedule in the table; a short schedule is far from converged and not comparable in value.\n\n"
  "| model | test NLL (IW) | k | test images | test -ELBO, same likelihood | epochs (ours / reference) | training images | train wall time |\n"
  "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
)
print(out.read_text())
PY
