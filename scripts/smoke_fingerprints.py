"""Fingerprints of every experiment's `:smoke` run: a hash of the final train state and of the
reproducible metrics records (wall-clock fields left out), for showing that a refactor changed no
computation, bit for bit.

Each run goes through the `dvae train` command (in this process, one device), on the real MNIST /
Fashion-MNIST files of --data_dir; the CIFAR-10 experiments read small generated files in the
official binary layout and the face experiments a folder of generated images, made identically on
every call. The state is read back from the checkpoint with orbax alone, so the fingerprint does
not depend on how the library builds an experiment.

  python scripts/smoke_fingerprints.py --data_dir ../shared/data --out /tmp/before.json
  python scripts/smoke_fingerprints.py --data_dir ../shared/data --out /tmp/after.json --compare /tmp/before.json
"""

import argparse
import hashlib
import json
import os
import pathlib
import sys
import tempfile

# The runs are compile-bound; one device, and XLA's backend at -O0 (as in the tests) keeps them fast.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]

# Experiment variants beyond `smoke` that select other networks or losses (each run combined with smoke).
OWN_VARIANTS = {
  "cifar10_conv_vae": ("celeba",),
  "cifar10_mlp_vae": ("grayscale",),
  "faces_vae": ("conv1024", "deep", "dense", "light"),
  "faces_vae_gan": ("resnet", "resnet_solo", "deep", "dense", "light", "resnet,light"),
  "mnist_conv_dae": ("fast",),
  "mnist_dense_vae": ("l2",),
  "mnist_vae_gan": ("l2",),
  "mnist_mlp_vae": ("z2",),
}


def generated_cifar10(root: pathlib.Path) -> pathlib.Path:
  """Small CIFAR-10 files in the official binary layout (fixed content)."""
  rng = np.random.default_rng(0)
  directory = root / "cifar10" / "cifar-10-batches-bin"
  directory.mkdir(parents=True, exist_ok=True)
  for name, count in [(f"data_batch_{i}.bin", 120) for i in range(1, 6)] + [("test_batch.bin", 300)]:
    labels = rng.integers(0, 10, (count, 1), dtype=np.uint8)
    pixels = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
    (directory / name).write_bytes(np.concatenate([labels, pixels], axis=1).tobytes())
  return root


def generated_faces(root: pathlib.Path) -> pathlib.Path:
  """A folder of 640 smooth 48 x 48 RGB PNGs (fixed content): the stand-in for a face folder."""
  from PIL import Image

  rng = np.random.default_rng(1)
  folder = root / "faces"
  folder.mkdir(parents=True, exist_ok=True)
  y, x = np.mgrid[0:48, 0:48] / 47.0
  for i in range(640):
    a, b, c = rng.uniform(0, 1, 3)
    image = np.stack([a * x + (1 - a) * y, b * (1 - x), c * x * y], axis=-1)
    Image.fromarray((255 * image).astype(np.uint8)).save(folder / f"{i:04d}.png")
  return folder


def state_fingerprint(checkpoints: pathlib.Path) -> tuple[int, str]:
  """(latest step, sha256 over every array of its `state` item: path, dtype, shape and bytes)."""
  import jax
  import orbax.checkpoint as ocp

  step = max(int(p.name) for p in checkpoints.iterdir() if p.name.isdigit())
  path = (checkpoints / str(step) / "state").absolute()
  metadata = ocp.PyTreeCheckpointer().metadata(path)
  tree = metadata.item_metadata.tree if hasattr(metadata, "item_metadata") else metadata.tree
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), tree)
  state = jax.device_get(ocp.StandardCheckpointer().restore(path, target))
  digest = hashlib.sha256()
  for key_path, leaf in sorted(jax.tree_util.tree_leaves_with_path(state), key=lambda kv: jax.tree_util.keystr(kv[0])):
    leaf = np.asarray(leaf)
    digest.update(f"{jax.tree_util.keystr(key_path)}|{leaf.dtype}|{leaf.shape}|".encode())
    digest.update(np.ascontiguousarray(leaf).tobytes())
  return step, digest.hexdigest()


def records_fingerprint(workdir: pathlib.Path) -> tuple[int, str]:
  """(record count, sha256 of the metrics records without their wall-clock fields)."""
  from dvae_jax.metric_writer import reproducible_records

  records = reproducible_records(workdir)
  return len(records), hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest()


def runs() -> list[str]:
  names = sorted(path.stem for path in (REPO / "experiments").glob("*.py"))
  return [
    f"{name}:{variant}" for name in names for variant in ("smoke", *(f"{v},smoke" for v in OWN_VARIANTS.get(name, ())))
  ]


def fingerprint(run: str, data_dir: pathlib.Path, scratch: pathlib.Path) -> dict:
  from dvae_jax import main

  name, variant = run.split(":")
  workdir = scratch / "runs" / run.replace(":", "_").replace(",", "_")
  args = [
    "train",
    f"--config={REPO / 'experiments' / name}.py:{variant}",
    f"--workdir={workdir}",
    "--config.num_devices=1",
    "--config.train.progress_bar=False",
  ]
  if name.startswith("cifar10_") and "celeba" not in variant:
    args.append(f"--config.data.dir={generated_cifar10(scratch / 'cifar')}")
  elif name.startswith("faces_") or "celeba" in variant:
    args += [
      f"--config.data.path={generated_faces(scratch / 'folder')}",
      f"--config.data.cache_dir={scratch / 'cache'}",
    ]
  else:
    args.append(f"--config.data.dir={data_dir}")
  status = main.invoke(*args)
  if status:
    return {"error": f"dvae train exited {status}"}
  step, state = state_fingerprint(workdir / "checkpoints")
  count, records = records_fingerprint(workdir)
  return {"step": step, "state_sha256": state, "records": count, "records_sha256": records}


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--data_dir", default=os.environ.get("DVAE_DATA_DIR"), help="MNIST / Fashion-MNIST IDX files")
  parser.add_argument("--out", required=True, help="JSON file for the fingerprints")
  parser.add_argument("--compare", help="fingerprints of an earlier run to compare with (exit 1 on any difference)")
  parser.add_argument("--only", nargs="*", help="run only these NAME:VARIANT entries")
  args = parser.parse_args()
  if not args.data_dir:
    parser.error("--data_dir (or $DVAE_DATA_DIR) is required: the folder holding mnist/ and fashion_mnist/")
  selected = args.only or runs()
  results = {}
  with tempfile.TemporaryDirectory(prefix="dvae-fingerprints-") as scratch:
    for run in selected:
      results[run] = fingerprint(run, pathlib.Path(args.data_dir), pathlib.Path(scratch))
      print(f"{run:<40} {json.dumps(results[run])}", flush=True)
  pathlib.Path(args.out).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
  if not args.compare:
    return 0
  before = json.loads(pathlib.Path(args.compare).read_text())
  differing = sorted(run for run in set(before) | set(results) if before.get(run) != results.get(run))
  for run in differing:
    print(f"DIFFERS {run}: before {before.get(run)} after {results.get(run)}")
  common = set(before) & set(results)
  identical = sum(before[run] == results[run] for run in common)
  new, missing = len(set(results) - set(before)), len(set(before) - set(results))
  print(f"{identical} of {len(common)} runs identical ({new} new runs, {missing} runs missing here)")
  return 1 if differing else 0


if __name__ == "__main__":
  sys.exit(main())
