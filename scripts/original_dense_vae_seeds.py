"""The learnable-loss VAE's MNIST dense VAE run by the ORIGINAL's own code (xuganyu96/VAE-GAN-learnable-loss,
MXNet Gluon), seed after seed: how far its recorded per-epoch training loss is seed noise.

The original's run folder records one run per setting. To tell whether dvae-jax's seeds land where the
original's code lands, this script trains the original's `models/DenseVAE.py`, imported from a clone of
its repository at the commit that made the record, with the loop of its `train_DenseVAE_on_MNIST.py` as
that commit has it (batches of 64 shuffled, the last one of 32 kept, Xavier init, Gluon's Adam at 1e-3,
the per-epoch mean of the batches' mean loss), and prints each epoch's training loss and mean KL. The only
changes: the CPU instead of `d2l.try_gpu()` (a stub `d2l` module), MNIST read from its official IDX file
(what `mx.test_utils.get_mnist()['train_data']` holds: float32 [N, 1, 28, 28] / 255), and a seed for
MXNet, NumPy and Python. The model at that commit computes KL + the sum of squared errors (the L2 run).

It needs MXNet, which dvae-jax does not depend on; in a separate virtual environment (Python 3.11):

  python3 -m venv /tmp/mxnet && /tmp/mxnet/bin/pip install mxnet==1.9.1 numpy==1.23.5
  git clone https://github.com/xuganyu96/VAE-GAN-learnable-loss /tmp/original
  OMP_NUM_THREADS=1 MXNET_CPU_WORKER_NTHREADS=1 /tmp/mxnet/bin/python scripts/original_dense_vae_seeds.py \\
      --original /tmp/original --data_dir ../shared/data --seeds 0 1 2 3 --epochs 11 --out /tmp/original_l2.json

Results: results/learnable_loss_original_code/README.md.
"""

import argparse
import gzip
import json
import pathlib
import random
import subprocess
import sys
import time
import types

import numpy as np

COMMIT = "aefcd295602f3d837596f39e3161ddc96ec2835d"  # made results/images/DenseVAE_on_MNIST/5_3_400_l2_50


def original_module(repository: pathlib.Path, commit: str, path: str, mx) -> types.ModuleType:
  """`path` of the original's repository at `commit`, imported as a module, with a `d2l` whose try_gpu is the CPU."""
  source = subprocess.run(
    ["git", "-C", str(repository), "show", f"{commit}:{path}"], check=True, capture_output=True, text=True
  ).stdout
  sys.modules["d2l"] = types.SimpleNamespace(try_gpu=mx.cpu)
  module = types.ModuleType(pathlib.Path(path).stem)
  exec(compile(source, f"{repository}/{path}@{commit[:7]}", "exec"), module.__dict__)
  return module


def mnist_train_images(data_dir: pathlib.Path) -> np.ndarray:
  """The 60,000 training images as float32 [N, 1, 28, 28] in [0, 1] (the official IDX file)."""
  raw = gzip.open(data_dir / "mnist" / "train-images-idx3-ubyte.gz").read()
  if int.from_bytes(raw[:4], "big") != 2051:
    raise ValueError(f"{data_dir}/mnist/train-images-idx3-ubyte.gz is not an IDX image file (magic 2051).")
  count = int.from_bytes(raw[4:8], "big")
  return np.frombuffer(raw, np.uint8, offset=16).reshape(count, 1, 28, 28).astype(np.float32) / 255


def train(seed: int, epochs: int, images: np.ndarray, dense_vae_module, mx) -> list[dict]:
  """One run of the original's loop; per epoch the recorded training loss and the mean KL per image."""
  from mxnet import autograd, gluon, nd

  random.seed(seed)
  np.random.seed(seed)
  mx.random.seed(seed)
  features = nd.array(images, ctx=mx.cpu())
  batches = gluon.data.DataLoader(features, 64, shuffle=True, last_batch="keep")
  model = dense_vae_module.DenseVAE(
    n_latent=5, n_hlayers=3, n_hnodes=400, n_out_channels=1, out_width=28, out_height=28
  )
  model.collect_params().initialize(mx.init.Xavier(), ctx=mx.cpu())
  trainer = gluon.Trainer(model.collect_params(), "adam", {"learning_rate": 0.001})
  history = []
  for epoch in range(1, epochs + 1):
    losses, kls, start = [], [], time.time()
    for batch in batches:
      with autograd.record():
        loss = model(batch)
      loss.backward()
      trainer.step(batch.shape[0])
      losses.append(nd.mean(loss).asscalar())
      kls.append(nd.mean(model.KL_div_loss).asscalar())
    record = {"epoch": epoch, "training_loss": float(np.mean(losses)), "kl": float(np.mean(kls))}
    history.append(record | {"batches": len(losses), "seconds": round(time.time() - start, 1)})
    print(f"seed {seed} epoch {epoch}: training loss {record['training_loss']:.4f}, KL {record['kl']:.4f}", flush=True)
  return history


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument(
    "--original", required=True, type=pathlib.Path, help="a clone of xuganyu96/VAE-GAN-learnable-loss"
  )
  parser.add_argument("--commit", default=COMMIT, help="the commit whose models/DenseVAE.py is trained")
  parser.add_argument("--data_dir", required=True, type=pathlib.Path, help="the folder holding mnist/")
  parser.add_argument("--seeds", type=int, nargs="+", default=[0])
  parser.add_argument("--epochs", type=int, default=11, help="epochs per seed (the original trains 50)")
  parser.add_argument("--out", type=pathlib.Path, help="JSON file for every seed's per-epoch records")
  args = parser.parse_args()
  import mxnet as mx

  dense_vae_module = original_module(args.original, args.commit, "models/DenseVAE.py", mx)
  images = mnist_train_images(args.data_dir)
  runs = {}
  for seed in args.seeds:
    runs[seed] = train(seed, args.epochs, images, dense_vae_module, mx)
    if args.out:  # after every seed, so that a stopped sweep keeps what it finished
      record = {"commit": args.commit, "mxnet": mx.__version__, "numpy": np.__version__, "runs": runs}
      args.out.write_text(json.dumps(record, indent=1) + "\n")
  print(markdown(runs))
  return 0


def markdown(runs: dict[int, list[dict]]) -> str:
  """Each seed's first and last epoch (training loss and mean KL), as a Markdown table."""
  last = min(len(history) for history in runs.values())
  lines = [
    f"| seed | epoch 1: training loss | KL | epoch {last}: training loss | KL |",
    "| --- | --- | --- | --- | --- |",
  ]
  for seed, history in runs.items():
    first, end = history[0], history[last - 1]
    lines.append(
      f"| {seed} | {first['training_loss']:.3f} | {first['kl']:.3f} | {end['training_loss']:.3f} | {end['kl']:.3f} |"
    )
  return "\n".join(lines)


if __name__ == "__main__":
  sys.exit(main())
