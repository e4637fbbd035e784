#!/bin/bash
# Wall time of a VAE + D's solo epochs (the VAE alone) against its combo epochs, for one or more
# checkouts of dvae-jax run one after another on the same machine: each trains
# faces_vae_gan.py:resnet_solo,light for 4 epochs with 2 solo epochs on an image folder and prints
# the epoch_seconds of its metrics.jsonl (epochs 1 and 3 include compilation; compare 2 with 4).
#
#   python3 scripts/make_image_folder.py --dataset fashion_mnist --split test --size 64 --rgb --limit 2000 --out /tmp/faces64
#   scripts/time_solo_epochs.sh /tmp/faces64 /path/to/old/checkout /path/to/new/checkout
#
# Results: results/solo_epochs/README.md.
set -euo pipefail
folder=$(realpath "$1"); shift
config=$(realpath "$(dirname "$0")/../experiments/faces_vae_gan.py")
runs=$(mktemp -d)
for tree in "$@"; do
  tree=$(realpath "$tree")
  workdir="$runs/$(basename "$tree")"
  PYTHONPATH="$tree" python -m dvae_jax.main train --config "$config:resnet_solo,light" --workdir "$workdir" \
    --config.data.path="$folder" --config.data.cache_dir="$runs/cache" --config.train.num_epochs=4 \
    --config.model.solo_epochs=2 --config.train.progress_bar=False > "$workdir.log" 2>&1
  echo "$tree ($(git -C "$tree" rev-parse --short HEAD))"
  python3 - "$workdir/metrics.jsonl" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
  record = json.loads(line)
  if record["split"] in ("epoch", "valid"):
    kind = "solo" if record["epoch"] <= 2 else "combo"
    print(f"  epoch {record['epoch']:g} ({kind}): {record['epoch_seconds']:.1f} s")
EOF
done
rm -rf "$runs"
