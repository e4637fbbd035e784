"""Side-by-side training speed: dvae-jax's jitted train step vs an independent PyTorch eager twin.

  python scripts/benchmark.py                                    # reference VAE and DVAE, batch 64
  python scripts/benchmark.py --configs mnist_vae --fast-ops auto,off --windows 7 --steps 20
  python scripts/benchmark.py --configs mnist_vae --no-torch --steps-per-dispatch 1,5 --steps 10

For each experiment config (experiments/<name>.py, the reference MNIST VAE and DVAE by default)
it times the real `Experiment.train_step` (real MNIST batches, sharded and preprocessed exactly
as `dvae train` does) and, interleaved window by window in the same process, the PyTorch twin in
dvae_jax/benchmarking.py (same networks, losses and optimizer; `pip install -e ".[bench]"`).
Each window is `--steps` steps; the table gives the median images/s over `--windows` windows of
each, their ratio, and the JAX step's FLOP rate (XLA's cost analysis of the compiled step) as a
fraction of this machine's measured float32 GEMM rate. Compilation and warm-up are not timed.
"""

import argparse
import importlib.util
import statistics

from dvae_jax.benchmarking import JaxRunner, TorchRunner, gemm_flops_per_second, machine


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--configs", nargs="+", default=["mnist_vae", "mnist_dvae"])
  parser.add_argument("--fast-ops", default="auto", help="comma-separated model.network.fast_ops values to time")
  parser.add_argument(
    "--steps-per-dispatch", default="1", help="comma-separated train.steps_per_dispatch values to time (JAX only)"
  )
  parser.add_argument("--windows", type=int, default=5)
  parser.add_argument("--steps", type=int, default=20)
  parser.add_argument("--threads", type=int, default=2, help="PyTorch intra-op threads")
  parser.add_argument("--data-dir", default=None)
  parser.add_argument("--no-torch", action="store_true", help="time only the JAX steps")
  parser.add_argument("--out", default=None, help="also write the markdown table here")
  args = parser.parse_args()
  if not args.no_torch and importlib.util.find_spec("torch") is None:
    parser.error('the PyTorch twin needs torch: pip install -e ".[bench]", or time only JAX with --no-torch')

  gemm = gemm_flops_per_second()
  rows = [
    "| config | implementation | images/s (median of windows) | vs PyTorch eager | GFLOP/s | of the GEMM rate |",
    "|---|---|---|---|---|---|",
  ]
  for name in args.configs:
    runners = {}
    for fast_ops in args.fast_ops.split(","):
      for per_dispatch in (int(k) for k in args.steps_per_dispatch.split(",")):
        suffix = f", steps_per_dispatch={per_dispatch}" if per_dispatch > 1 else ""
        label = f"dvae-jax (fast_ops={fast_ops}{suffix})"
        runners[label] = JaxRunner(name, fast_ops, args.data_dir, args.steps, per_dispatch)
    first = next(iter(runners.values()))
    if not args.no_torch:
      split = first.experiment.splits.train
      runners["PyTorch eager"] = TorchRunner("dvae" in name, first.batch_size, args.threads, split.images, split.labels)
    rates = {label: [] for label in runners}
    for _ in range(args.windows):  # interleaved windows: both see the same machine state
      for label, runner in runners.items():
        rates[label].append(runner.window(args.steps))
    medians = {label: statistics.median(r) for label, r in rates.items()}
    torch_rate = medians.get("PyTorch eager")
    for label, rate in medians.items():
      ratio = f"{rate / torch_rate:.2f}x" if torch_rate else "-"
      runner = runners[label]
      if isinstance(runner, JaxRunner):
        flops = runner.flops_per_step * rate / runner.batch_size
        rows.append(f"| {name} | {label} | {rate:.0f} | {ratio} | {flops / 1e9:.1f} | {100 * flops / gemm:.0f}% |")
      else:
        rows.append(f"| {name} | {label} | {rate:.0f} | {ratio} | - | - |")
    print(f"{name}: " + ", ".join(f"{label} {[round(r) for r in rates[label]]}" for label in rates), flush=True)
  table = "\n".join(
    [
      f"Machine: {machine()}; float32 GEMM rate {gemm / 1e9:.1f} GFLOP/s; batch 64; {args.windows} windows of "
      f"{args.steps} steps each, interleaved.",
      "",
      *rows,
    ]
  )
  print(table)
  if args.out:
    with open(args.out, "w") as f:
      f.write(table + "\n")


if __name__ == "__main__":
  main()
