#!/usr/bin/env bash
# Im et al.'s denoising VAE vs the plain VAE with the same network, data and budget, in nats of test
# NLL: trains experiments/mnist_binarized_{denoising_vae,mlp_vae}.py on dynamically binarized MNIST,
# estimates -log p(x) on the test set with k importance samples from q(z|x) of the clean image, and
# prints (and writes to --out) a markdown table.
#
#   scripts/reproduce_denoising_vae.sh                          # the full schedule (200 epochs), k = 5000
#   scripts/reproduce_denoising_vae.sh --epochs 2 --lr 1e-3 --iw-samples 500 --iw-limit 1000 \
#     --runs /tmp/idvae/runs                                    # ~3-5 min per model on 2 shared CPU cores
#
# Run from the repository root. $PYTHON (default: python) must have the package's dependencies;
# `python -m dvae_jax.main` runs this checkout's code.
set -euo pipefail

args=("$@")
epochs="" lr="" seed="" train_limit="" iw_samples=5000 iw_limit="" runs=runs/denoising_vae out=results/issue6/denoising_vae_nll.md
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
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
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

mkdir -p "$(dirname "$out")"
"$python" - "$runs" "$out" "scripts/reproduce_denoising_vae.sh ${args[*]:-}" <<'PY'
import json, pathlib, sys
runs, out, command = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
labels = {"denoising_vae": "denoising VAE (Gaussian input noise 0.025)", "mlp_vae": "VAE"}
rows, nll = [], {}
for name, label in labels.items():
  workdir = runs / f"mnist_binarized_{name}"
  result = json.loads((workdir / "eval_test.json").read_text())
  config = json.loads((workdir / "config.json").read_text())
  train_wall = float((workdir / "train_wall_seconds").read_text())
  eval_wall = float((workdir / "eval_wall_seconds").read_text())
  nll[label] = result["iw_nll_nats"]
  rows.append(
    f"| {label} | {result['iw_nll_nats']:.2f} | {result['iw_samples']} / {result['iw_num_examples']} "
    f"| {result['output_neg_elbo_nats']:.2f} | {result['recon_nats']:.2f} | {result['kl_nats']:.2f} "
    f"| {config['train']['num_epochs']} / 200 | {config['optim']['learning_rate']:g} "
    f"| {config['data']['train_limit'] or 54000} | {config['seed']} | {train_wall / 60:.1f} / {eval_wall / 60:.1f} min |"
  )
best = min(nll, key=nll.get)
out.write_text(
  "# Denoising VAE (Im et al. 2017) vs VAE: test NLL on dynamically binarized MNIST (nats per image)\n\n"
  f"Made by `{command.strip()}`. Same network (MLP 512-512, batch norm, LeakyReLU, z = 128), data, "
  "K = 10 posterior draws and budget for both; the NLL is importance-weighted with k samples from q(z|x) of "
  "the clean test image (the same generative model p(z) p(x|z) for both). The bound column is what each was "
  "trained on, measured on the test set: the K-draw -ELBO for the VAE, the denoising bound (encoder on a "
  "corrupted image) for the denoising VAE. A short schedule is far from converged: compare the two, not "
  "with the literature.\n\n"
  "| model | test NLL (IW) | k / test images | test bound | recon | KL | epochs (ours / authors') | lr "
  "| training images | seed | wall time train / evaluate |\n"
  "|---|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
  f"Lower is better: {best} by {abs(nll[labels['denoising_vae']] - nll[labels['mlp_vae']]):.2f} nats.\n"
)
print(out.read_text())
PY
