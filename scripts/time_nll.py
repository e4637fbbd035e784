"""How long `dvae evaluate`'s importance-weighted NLL takes, measured on a subset and extrapolated.

  python scripts/time_nll.py                                   # reference VAE, fresh weights, 256 images
  python scripts/time_nll.py --workdir runs/mnist_vae --images 512 --fast-ops auto,off

Runs the real estimator (`dvae_jax.evaluate.importance_weighted_nll`, the code `dvae evaluate` runs)
with the config's k, chunk and batch sizes (`eval.iw_*`, overridable here) on the first `--images`
test images, `--repeats` times per `fast_ops` value, the values interleaved (on a shared machine
they then see the same load), and prints the median decodes/s (images * k / seconds, compilation
time as reported by jax.monitoring subtracted) and the time the full test split would take at that
rate: an extrapolation from the measured subset, labelled as such. The decoder's speed does not
depend on its weights, so freshly initialised ones (the default) time the same as trained ones.

It also prints the time the executed FLOPs would take at this machine's float32 GEMM rate
(`dvae_jax.benchmarking.gemm_flops_per_second`): XLA's cost analysis of one compiled decode (the
config's decoder on a batch of codes, eval mode) times images * k. That counts what the chosen ops
execute (the polyphase window's unused taps count; for the plain transposed convolution XLA leaves
the dilation's zeros out), so it bounds this implementation rather than the network.
"""

import argparse
import pathlib
import statistics
import tempfile
import time

import jax

from dvae_jax import evaluate
from dvae_jax.benchmarking import gemm_flops_per_second, machine
from dvae_jax.configs import load_config, load_experiment
from dvae_jax.experiment import Experiment, build_experiment
from dvae_jax.inference import Run, restore_run

# The prefix of jax.monitoring's duration events for tracing, lowering and compiling (an event name, not a path).
_COMPILE_EVENTS = "/jax/core/compile/"


class CompileClock:
  """Seconds JAX spent tracing, lowering and compiling since the last `reset` (jax.monitoring)."""

  def __init__(self):
    self.seconds = 0.0
    jax.monitoring.register_event_duration_secs_listener(self._record)

  def _record(self, event: str, duration: float, **_) -> None:
    if event.startswith(_COMPILE_EVENTS):
      self.seconds += duration

  def reset(self) -> None:
    self.seconds = 0.0


def build_run(args, fast_ops: str) -> Run:
  if args.workdir:
    config = load_config(args.workdir)
    config.model.network.fast_ops = fast_ops
    if args.data_dir:
      config.data.dir = args.data_dir
    return restore_run(args.workdir, config)
  config = load_experiment(args.config)
  config.num_devices = 1
  config.model.network.fast_ops = fast_ops
  if args.data_dir:
    config.data.dir = args.data_dir
  experiment = build_experiment(config)
  return Run(pathlib.Path(tempfile.gettempdir()), experiment, experiment.init_state(), 0)


def flops_per_decode(run: Run, batch: int) -> float:
  """XLA's FLOP count of decoding `batch` codes to output logits, per code."""
  model = run.experiment.model
  variables = Experiment.variables(run.state)
  codes = jax.ShapeDtypeStruct((batch, run.experiment.hparams.latent_dim), jax.numpy.float32)
  compiled = jax.jit(lambda v, z: model.apply(v, z, method="output_logits")).lower(variables, codes).compile()
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, list | tuple) else cost
  return float(cost["flops"]) / batch


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--config", default="mnist_vae", help="experiments/<name>.py (ignored with --workdir)")
  parser.add_argument("--workdir", default=None, help="a trained run to restore instead of fresh weights")
  parser.add_argument("--fast-ops", default="auto", help="comma-separated model.network.fast_ops values to time")
  parser.add_argument("--images", type=int, default=256, help="test images to time on")
  parser.add_argument("--num-samples", type=int, default=None, help="k (default: the config's eval.iw_samples)")
  parser.add_argument("--chunk-size", type=int, default=None, help="default: eval.iw_chunk_size")
  parser.add_argument("--batch-size", type=int, default=None, help="default: eval.iw_batch_size")
  parser.add_argument("--repeats", type=int, default=1, help="timed runs per fast_ops value (interleaved)")
  parser.add_argument("--data-dir", default=None)
  args = parser.parse_args()

  clock = CompileClock()
  gemm = gemm_flops_per_second()
  print(f"Machine: {machine()}; float32 GEMM rate {gemm / 1e9:.1f} GFLOP/s", flush=True)
  runs = {fast_ops: build_run(args, fast_ops) for fast_ops in args.fast_ops.split(",")}
  eval_config = next(iter(runs.values())).experiment.config.eval
  k = args.num_samples or eval_config.iw_samples
  chunk = args.chunk_size or eval_config.iw_chunk_size
  batch = args.batch_size or eval_config.iw_batch_size
  rates = {fast_ops: [] for fast_ops in runs}
  for _ in range(args.repeats):
    for fast_ops, run in runs.items():
      subset = run.split("test").head(args.images)
      clock.reset()
      start = time.perf_counter()
      result = evaluate.importance_weighted_nll(run, subset, num_samples=k, chunk_size=chunk, batch_size=batch)
      wall = time.perf_counter() - start
      rates[fast_ops].append(len(subset) * k / (wall - clock.seconds))
      print(
        f"fast_ops={fast_ops}: {wall:.1f} s ({clock.seconds:.1f} s of it compiling) for {len(subset)} images -> "
        f"{rates[fast_ops][-1]:.0f} decodes/s; iw_nll_nats on the subset {result['iw_nll_nats']:.4f}",
        flush=True,
      )
  for fast_ops, run in runs.items():
    rate = statistics.median(rates[fast_ops])
    flops = flops_per_decode(run, batch)
    decodes_full = len(run.split("test")) * k
    print(
      f"fast_ops={fast_ops}, k={k}, chunk {chunk}, batch {batch}: median {rate:.0f} decodes/s over {args.repeats} "
      f"run(s) on {args.images} test images ({flops * rate / 1e9:.1f} GFLOP/s, {100 * flops * rate / gemm:.0f}% of "
      f"the GEMM rate). Full test split ({len(run.split('test'))} images): {decodes_full / rate / 60:.1f} min, "
      f"extrapolated from the subset. XLA counts {flops / 1e6:.2f} MFLOP per decode here; at the GEMM rate "
      f"those take at least {decodes_full * flops / gemm / 60:.1f} min.",
      flush=True,
    )


if __name__ == "__main__":
  main()
