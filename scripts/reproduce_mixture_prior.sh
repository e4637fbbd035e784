#!/usr/bin/env bash
# A learned Gaussian-mixture prior against N(0, I) (issue 6, item 5): trains the flax-example MLP VAE
# on dynamically binarized MNIST with each prior (experiments/mnist_mixture_vae.py and its twin
# experiments/mnist_mixture_vae_standard_prior.py: same network, data and budget), evaluates both
# (test -ELBO and KL on all 10,000 test images, the importance-weighted NLL with k samples on the
# first test images, and the mixture components' cluster accuracy), and prints one table, also
# written to results/mixture_prior.md.
#
#   scripts/reproduce_mixture_prior.sh       # the configs as they are: 10 epochs, k = 1000 on 1000 images
#   scripts/reproduce_mixture_prior.sh --epochs 50 --iw-samples 5000 --iw-limit 10000   # longer (GPU)
#
# Run from the repository root; PYTHON (default python3) must import dvae_jax's dependencies, and
# the data come from $DVAE_DATA_DIR as for `dvae train`.
set -euo pipefail

args=("$@")
epochs="" iw_samples=1000 iw_limit="" runs=runs/mixture_prior out=results
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --iw-samples) iw_samples=$2; shift 2 ;;
    --iw-limit) iw_limit=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
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

mkdir -p "$out"
"${PYTHON:-python3}" - "$runs" "$out/mixture_prior.md" "scripts/reproduce_mixture_prior.sh ${args[*]:-}" <<'PY'
import json, pathlib, sys
runs, out, command = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
rows = []
for experiment, prior in (("mnist_mixture_vae_standard_prior", "N(0, I)"), ("mnist_mixture_vae", "mixture")):
  workdir = runs / experiment
  result = json.loads((workdir / "eval_test.json").read_text())
  config = json.loads((workdir / "config.json").read_text())
  if prior == "mixture":
    prior = f"mixture of {config['model']['prior']['components']} Gaussians"
  train_wall, eval_wall = (float((workdir / f"{name}_wall_seconds").read_text()) for name in ("train", "eval"))
  clusters = ("cluster_accuracy", "cluster_accuracy_many_to_one")
  accuracy = [f"{result[name]:.3f}" if name in result else "n/a" for name in clusters]
  used = f"{result['cluster_components_used']}" if "cluster_components_used" in result else "n/a"
  rows.append(
    f"| {prior} | {config['train']['num_epochs']} | {result['output_neg_elbo_nats']:.2f} | {result['kl_nats']:.2f} "
    f"| {result['iw_nll_nats']:.2f} | {result['iw_samples']} / {result['iw_num_examples']} "
    f"| {accuracy[0]} | {accuracy[1]} | {used} | {train_wall / 60:.1f} + {eval_wall / 60:.1f} min |"
  )
out.write_text(
  "# A learned mixture prior against N(0, I): MLP VAE on dynamically binarized MNIST (test split)\n\n"
  f"Made by `{command.strip()}`. Nats per image; -ELBO and KL on all {result['num_examples']} test images "
  "(one posterior draw each; the mixture's KL is a Monte-Carlo estimate), NLL importance-weighted with k "
  "samples on the first test images. Cluster accuracy: the component most responsible for an image's "
  "posterior mean, mapped to labels one-to-one (Hungarian; unmatched components count as wrong) or "
  "many-to-one (each component to its majority label).\n\n"
  "| prior | epochs | test -ELBO | KL | test NLL (IW) | k / images | cluster acc. (1:1) | cluster acc. (many:1) "
  "| components used | wall time (train + evaluate) |\n"
  "|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
)
print(out.read_text())
PY
