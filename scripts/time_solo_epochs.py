"""A VAE + D's solo-epoch step (the VAE alone: two_player.solo_step) against the full step that solo
epochs took before it (the discriminator's step computed and dropped, as a combo step computes it),
side by side in one process: interleaved windows of the same rows from the same initial state, the
median images/s of each.

  python3 scripts/make_image_folder.py --dataset fashion_mnist --split test --size 64 --rgb \
    --limit 2000 --out /tmp/faces64
  python scripts/time_solo_epochs.py --config faces_vae_gan:resnet_solo,light --set data.path=/tmp/faces64
  python scripts/time_solo_epochs.py --config mnist_vae_gan --set model.solo_epochs=50

Results: results/solo_epochs/README.md.
"""

import argparse
import statistics
import time

import jax

from dvae_jax import benchmarking, configs
from dvae_jax.data import train_batches
from dvae_jax.experiment import build_experiment


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--config", required=True, help="experiment[:variant], e.g. faces_vae_gan:resnet_solo,light")
  parser.add_argument("--set", action="append", default=[], help="KEY=VALUE config override (repeatable)")
  parser.add_argument("--steps", type=int, default=10, help="train steps per window")
  parser.add_argument("--windows", type=int, default=5, help="windows of each step, interleaved")
  args = parser.parse_args()
  name, _, variant = args.config.partition(":")
  config = configs.load_experiment(name, variant or None)
  for assignment in args.set:
    configs.apply_override(config, assignment)
  config.train.progress_bar = False
  experiment = build_experiment(config)
  if experiment.solo_train_step is None:
    raise SystemExit(f"{args.config}: no solo epochs (model.solo_epochs) in a two-player family; nothing to time.")
  rows = [
    batch
    for _, batch in train_batches(
      experiment.splits.train,
      key=experiment.keys["data"],
      epoch=0,
      batch_size=config.train.batch_size,
      start_step=0,
      steps_per_dispatch=1,
    )
  ][: args.steps]
  steps = {"full step (before)": experiment.train_step, "solo step": experiment.solo_train_step}
  states = {label: experiment.init_state() for label in steps}
  rates = {label: [] for label in steps}
  for window in range(args.windows + 1):  # the first window of each compiles and warms up
    for label, step in steps.items():
      start = time.perf_counter()
      for batch in rows:
        states[label], metrics = step(states[label], batch)
      jax.block_until_ready((states[label], metrics))
      if window:
        rates[label].append(len(rows) * config.train.batch_size / (time.perf_counter() - start))
  print(f"{args.config} {' '.join(args.set)}; {benchmarking.machine()}; jax {jax.__version__}")
  median = {label: statistics.median(values) for label, values in rates.items()}
  for label, value in median.items():
    print(f"  {label}: {value:.1f} img/s (median of {args.windows} windows of {len(rows)} steps)")
  print(f"  solo / full: {median['solo step'] / median['full step (before)']:.2f}x")


if __name__ == "__main__":
  main()
