"""Where one jitted train step spends its time, op by op and network piece by piece.

  python scripts/profile_step.py                          # reference VAE, fast_ops=auto, batch 64
  python scripts/profile_step.py --config mnist_dvae --fast-ops off --steps 10

Traces `--steps` real train steps (dvae_jax.benchmarking's JaxRunner, as scripts/benchmark.py: real
MNIST batches, compiled and warmed up first) with jax.profiler, sums the trace's XLA:CPU op events
per op, and names each op by the jax op_name XLA kept in its metadata (e.g.
`transpose(jvp(VAE))/inference/trunk/conv_1/...`: the backward of the encoder's second convolution).
It prints the time per step of each network piece (forward; backward split into input and kernel
gradients where the op's output shape says which) and of the largest single ops. Ops overlap on the
two threads, so the pieces can sum to more than the step's wall time.
"""

import argparse
import collections
import glob
import gzip
import json
import re
import tempfile

import jax

from dvae_jax.benchmarking import JaxRunner
from dvae_jax.configs import load_experiment

# (substring of the op_name, piece); the first match wins, so deconv_* comes before conv_*.
PIECES = (
  ("bn_", "batch norm"),
  ("reduce_window", "max-pool"),
  ("_pad", "max-pool"),
  ("select_n", "max-pool"),
  ("deconv_0", "deconv_0"),
  ("deconv_1", "deconv_1"),
  ("conv_0/", "conv_0"),
  ("conv_1/", "conv_1"),
  ("dense", "dense layers"),
  ("/mean/", "dense layers"),
  ("/logvar/", "dense layers"),
  ("/label/", "dense layers"),
)


def op_metadata(hlo_text: str) -> dict[str, tuple[str, str]]:
  """HLO instruction name -> (output shape, jax op_name) from the compiled module's text."""
  found = {}
  for line in hlo_text.splitlines():
    match = re.match(r"\s*(?:ROOT )?%?([\w.\-]+) = (\S+) .*?metadata=\{([^}]*)\}", line)
    if match:
      op_name = re.search(r'op_name="([^"]*)"', match.group(3))
      found[match.group(1)] = (match.group(2), op_name.group(1) if op_name else "")
  return found


def piece(shape: str, op_name: str) -> str:
  backward = "transpose(" in op_name
  for key, label in PIECES:
    if key not in op_name:
      continue
    if not backward:
      return f"{label} forward"
    if label.startswith("deconv"):  # dvae_jax.ops: autodiff's input gradient, the GEMM kernel gradient
      return f"{label} {'input grad' if 'conv_general_dilated' in op_name else 'kernel grad (GEMM, slices, stack)'}"
    if label.startswith("conv"):
      if "5,5," in shape:
        return f"{label} kernel grad"
      return f"{label} {'input grad' if 'conv_general_dilated' in op_name else 'bias grad'}"
    return f"{label} backward"
  return "other (loss, optimizer, copies)"


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--config", default="mnist_vae")
  parser.add_argument("--fast-ops", default="auto")
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--top", type=int, default=25, help="largest single ops to list")
  parser.add_argument("--data-dir", default=None)
  args = parser.parse_args()

  config = load_experiment(args.config)
  config.num_devices = 1
  config.model.network.fast_ops = args.fast_ops
  config.data.train_limit = args.steps * config.train.batch_size
  if args.data_dir:
    config.data.dir = args.data_dir
  runner = JaxRunner(config)
  metadata = op_metadata(runner.experiment.train_step.lower(runner.state, runner.first_rows).compile().as_text())
  directory = tempfile.mkdtemp()
  with jax.profiler.trace(directory, create_perfetto_trace=True):
    rate = runner.window(args.steps)
  with gzip.open(glob.glob(f"{directory}/**/perfetto_trace.json.gz", recursive=True)[0]) as f:
    events = json.load(f)
  events = events["traceEvents"] if isinstance(events, dict) else events
  per_op = collections.Counter()
  for event in events:
    if event.get("ph") == "X" and event.get("name") in metadata:
      per_op[event["name"]] += event["dur"]
  pieces = collections.Counter()
  for name, microseconds in per_op.items():
    pieces[piece(*metadata[name])] += microseconds
  ms = lambda microseconds: microseconds / args.steps / 1e3
  step_ms = 1e3 * runner.batch_size / rate
  print(
    f"{args.config}, fast_ops={args.fast_ops}: {rate:.0f} img/s while tracing "
    f"({step_ms:.1f} ms/step wall), {args.steps} steps"
  )
  print("| piece | ms/step |\n|---|---|")
  for label, microseconds in pieces.most_common():
    print(f"| {label} | {ms(microseconds):.1f} |")
  print(f"| sum of XLA ops | {ms(sum(pieces.values())):.1f} |\n")
  print("| op | ms/step | output | jax op_name |\n|---|---|---|---|")
  for name, microseconds in per_op.most_common(args.top):
    shape, op_name = metadata[name]
    op_name = re.sub(r"^jit\(\w+\)/", "", op_name)
    print(f"| {name} | {ms(microseconds):.1f} | {shape.split('{')[0]} | {op_name} |")


if __name__ == "__main__":
  main()
