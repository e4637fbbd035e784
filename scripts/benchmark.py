"""Side-by-side training speed: dvae-jax's jitted train step vs an independent PyTorch eager twin.

  python scripts/benchmark.py                                    # reference VAE and DVAE, batch 64
  python scripts/benchmark.py --configs mnist_vae --fast-ops auto,off --windows 7 --steps 20
  python scripts/benchmark.py --configs mnist_vae --no-torch --steps-per-dispatch 1,5 --steps 10

For each experiment config (experiments/<name>.py, the reference MNIST VAE and DVAE by default)
it times the real `Experiment.train_step` (real MNIST batches, sharded and preprocessed exactly
as `dvae train` does) and, interleaved window by window in the same process, the PyTorch twin in
scripts/torch_reference.py (same networks, losses and optimizer; `pip install -e ".[bench]"`).
Each window is `--steps` steps; the table gives the median images/s over `--windows` windows of
each, their ratio, and the JAX step's FLOP rate (XLA's cost analysis of the compiled step) as a
fraction of this machine's measured float32 GEMM rate. Compilation and warm-up are not timed.
"""

import argparse
import os
import platform
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def _load_config(name: str):
  import importlib.util

  spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "experiments", f"{name}.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(None)


def gemm_flops_per_second(n: int = 2048, repeats: int = 10) -> float:
  """This machine's float32 GEMM rate through XLA (n x n x n, best of `repeats`)."""
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  matmul = jax.jit(lambda a: a @ a)
  matmul(a).block_until_ready()
  best = min(_timed(lambda: matmul(a).block_until_ready()) for _ in range(repeats))
  return 2 * n**3 / best


def _timed(fn) -> float:
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


class JaxRunner:
  def __init__(self, name: str, fast_ops: str, data_dir: str | None, num_batches: int, steps_per_dispatch: int = 1):
    from dvae_jax import parallel, train
    from dvae_jax.data import train_batches

    if num_batches % steps_per_dispatch:
      raise ValueError(f"--steps={num_batches} must be a multiple of steps_per_dispatch={steps_per_dispatch}")
    config = _load_config(name)
    config.num_devices = 1
    config.model.network.fast_ops = fast_ops
    config.train.steps_per_dispatch = steps_per_dispatch
    config.data.train_limit = num_batches * config.train.batch_size
    if data_dir:
      config.data.dir = data_dir
    self.experiment = train.build_experiment(config)
    self.batch_size = config.train.batch_size
    sharding = parallel.batch_sharding(self.experiment.mesh, leading_axes=1)
    self.batches = [
      parallel.global_batch(batch, sharding)
      for _, batch in train_batches(
        self.experiment.splits.train,
        key=self.experiment.keys["data"],
        epoch=0,
        batch_size=self.batch_size,
        start_step=0,
        steps_per_dispatch=steps_per_dispatch,
      )
    ]
    self.steps_per_dispatch = steps_per_dispatch
    self.state = self.experiment.init_state()
    compiled = self.experiment.train_step.lower(self.state, self.batches[0]).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    self.flops_per_step = float(cost.get("flops", float("nan"))) / steps_per_dispatch
    self.window(2)  # warm-up

  def window(self, steps: int) -> float:
    """Images per second over `steps` train steps (dispatch through completion)."""
    dispatches = max(1, steps // self.steps_per_dispatch)
    start = time.perf_counter()
    for i in range(dispatches):
      self.state, _ = self.experiment.train_step(self.state, self.batches[i % len(self.batches)])
    jax.block_until_ready(self.state)
    return dispatches * self.steps_per_dispatch * self.batch_size / (time.perf_counter() - start)


class TorchRunner:
  def __init__(self, dvae: bool, batch_size: int, threads: int, images: np.ndarray, labels: np.ndarray):
    import torch

    from scripts.torch_reference import make_step

    torch.set_num_threads(threads)
    self.torch, self.batch_size = torch, batch_size
    self.step, _ = make_step(dvae)
    x = torch.from_numpy(1.0 - images.astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(labels.astype(np.int64))
    self.batches = [
      (x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x) - batch_size + 1, batch_size)
    ]
    self.window(2)  # warm-up

  def window(self, steps: int) -> float:
    start = time.perf_counter()
    for i in range(steps):
      self.step(*self.batches[i % len(self.batches)])
    return steps * self.batch_size / (time.perf_counter() - start)


def machine() -> str:
  model = platform.processor() or "unknown CPU"
  try:
    with open("/proc/cpuinfo") as f:
      model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
  except (OSError, StopIteration):
    pass
  return f"{model}, {os.cpu_count()} cores, jax {jax.__version__}, backend {jax.default_backend()}"


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
