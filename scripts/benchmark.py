"""Side-by-side training speed: dvae-jax's training path against a peer, interleaved window by window
in one process.

  python scripts/benchmark.py --peer bare                        # the three models vs a bare jitted loop
  python scripts/benchmark.py --peer bare --steps-per-dispatch 1,16 --on-device auto,false --windows 7
  python scripts/benchmark.py                                    # reference VAE and DVAE vs PyTorch eager
  python scripts/benchmark.py --configs mnist_vae --fast-ops auto,off --windows 7 --steps 20

dvae-jax is timed as `dvae train` runs it (dvae_jax/benchmarking.py's JaxRunner): the real
`Experiment.train_step` on the rows of each epoch's shuffled order, gathered on the device or the
host as data.on_device says, one dispatch queued behind the running one. Each entry of --configs is
an experiment config, optionally followed by overrides: "mnist_vae_flax model.network.fc_sizes=(16,)".
Compilation and warm-up are not timed; the table gives each implementation's median images/s over
--windows windows and its ratio to the peer's median.

Peers:
- "bare" (`BareLoop`, below): the same model written into a training loop from scratch, as a
  researcher would write it for speed: the same Flax module, initial parameters, batch size,
  likelihood, KL, label head, clipping and Adam; the training split preprocessed (binarized) once and
  on the device; each call a lax.scan over --bare-steps steps, each step gathering its rows of a
  shuffled order. No metrics but the loss, no schedule, no bookkeeping. Its dispatch count per image
  is the least a loop can have, so the ratio is what dvae-jax's generality costs. The default models:
  the 784-16-20 MLP VAE, the google/flax example's 784-500-20 (experiments/mnist_vae_flax.py) and the
  reference conv VAE (experiments/mnist_vae.py, dojoteef's network). A window is --steps steps, or
  with --seconds at least that long (whole calls of the bare loop, whole dispatches of dvae-jax).
- "torch": an independent PyTorch eager twin of the reference VAE and DVAE (dvae_jax/benchmarking.py;
  `pip install -e ".[bench]"`); the table adds the JAX step's FLOP rate (XLA's cost analysis of the
  compiled step) as a fraction of this machine's measured float32 GEMM rate.
"""

import argparse
import importlib.util
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from dvae_jax.benchmarking import JaxRunner, TorchRunner, gemm_flops_per_second, machine

BARE_MODELS = ["mnist_vae_flax model.network.fc_sizes=(16,)", "mnist_vae_flax", "mnist_vae"]


class BareLoop:
  """The peer of `--peer bare`: an experiment's model trained by a loop written from scratch (see the
  module docstring). Only a VAE with a Bernoulli likelihood and the N(0, I) prior."""

  def __init__(self, experiment, steps_per_call: int):
    config, hparams, model = experiment.config, experiment.hparams, experiment.model
    if hparams.family != "vae" or hparams.likelihood != "bernoulli" or hparams.prior.name != "standard":
      raise ValueError("the bare loop is a VAE with a Bernoulli likelihood and the N(0, I) prior")
    if config.data.binarize == "dynamic":
      raise ValueError("the bare loop trains on fixed inputs (data.binarize 'none' or 'static')")
    split = experiment.splits.train
    # The inputs, preprocessed once: floats in [0, 1], binarized when the config binarizes.
    self.images = jax.device_put(experiment.prepare(split.take(slice(None), split.input_fields))["image"])
    self.labels = jax.device_put(split.labels)
    self.batch_size, self.steps_per_call = config.train.batch_size, steps_per_call
    optim = config.optim
    clip = optax.clip(optim.clip_value) if optim.clip_value else optax.identity()
    optimizer = optax.chain(clip, optax.adam(optim.learning_rate, b1=optim.b1, b2=optim.b2, eps=optim.eps))
    weight_decay = getattr(hparams, "weight_decay", 0.0)
    sum_over_batch = config.optim.batch_reduction == "sum"

    def loss_fn(params, model_state, x, labels, key):
      rngs = {"reparam": key}
      out, model_state = model.apply(
        {"params": params, **model_state}, x, train=True, rngs=rngs, mutable=list(model_state)
      )
      recon = jnp.sum(optax.sigmoid_binary_cross_entropy(out["logits"], x[None]), axis=(-3, -2, -1)).mean(axis=0)
      mean, logvar = out["mean"], out["logvar"]
      kl = 0.5 * jnp.sum(jnp.exp(logvar) + mean**2 - 1.0 - logvar, axis=-1)
      per_image = recon + kl
      if "label_logits" in out:
        per_image += hparams.label_loss_weight * optax.softmax_cross_entropy_with_integer_labels(
          out["label_logits"], labels
        )
      loss = jnp.sum(per_image) if sum_over_batch else jnp.mean(per_image)
      if weight_decay:  # dense weights and biases, conv biases (the reference's set), counted once
        loss += weight_decay * sum(0.5 * jnp.sum(w**2) for w in jax.tree.leaves(params) if w.ndim < 4)
      return loss, (model_state, recon, kl)

    def step(carry, index, images, labels):
      params, model_state, opt_state, count = carry
      key = jax.random.fold_in(experiment.keys["train"], count)
      grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
      (loss, (model_state, recon, kl)), grads = grad_fn(params, model_state, images[index], labels[index], key)
      updates, opt_state = optimizer.update(grads, opt_state, params)
      # The step's loss and its mean terms, as a loop that logs them. Measured on XLA:CPU (jax 0.10):
      # the same loop returning the loss alone takes twice the CPU time per image (XLA then fuses the
      # per-pixel terms into the loss's reduction differently), so the peer keeps the faster form.
      return (optax.apply_updates(params, updates), model_state, opt_state, count + 1), (loss, recon.mean(), kl.mean())

    def run(carry, images, labels, order):  # order [steps, B]
      if self.steps_per_call == 1:  # straight-line code: no while loop
        carry, outputs = step(carry, order[0], images, labels)
        return carry, jax.tree.map(lambda x: x[None], outputs)
      return jax.lax.scan(lambda c, index: step(c, index, images, labels), carry, order)

    state = experiment.init_state()
    self.carry = (state.params, state.model_state, optimizer.init(state.params), jnp.zeros((), jnp.int32))
    # XLA:CPU compiles a while loop's body apart, where it runs convolutions an order of magnitude
    # slower (docs/performance.md: why train.steps_per_dispatch unrolls); a rolled scan is the bare
    # loop's form for dense networks only, and on the CPU a network with convolutions runs one step per call.
    probe = jax.make_jaxpr(step)(self.carry, np.zeros(self.batch_size, np.int32), self.images, self.labels)
    if jax.default_backend() == "cpu" and "conv_general_dilated" in str(probe):
      self.steps_per_call = 1
    self.description = (
      "bare jitted loop (one step per call)"
      if self.steps_per_call == 1
      else f"bare jitted loop (lax.scan of {self.steps_per_call} steps)"
    )
    self.run = jax.jit(run, donate_argnums=0)
    self.rng, self.order = np.random.default_rng(0), np.zeros((0, self.batch_size), np.int32)
    self.window(self.steps_per_call)  # compilation and warm-up

  def _next_order(self) -> np.ndarray:
    """The next call's [steps, B] rows of a shuffled order (a new permutation when an epoch runs out)."""
    while len(self.order) < self.steps_per_call:
      steps = len(self.labels) // self.batch_size
      epoch = self.rng.permutation(len(self.labels))[: steps * self.batch_size].reshape(steps, self.batch_size)
      self.order = np.concatenate([self.order, epoch.astype(np.int32)])
    order, self.order = self.order[: self.steps_per_call], self.order[self.steps_per_call :]
    return order

  def window(self, steps: int) -> float:
    """Images per second over whole calls of at least `steps` steps (dispatch through completion)."""
    calls = max(1, -(-steps // self.steps_per_call))
    start = time.perf_counter()
    for _ in range(calls):
      self.carry, _ = self.run(self.carry, self.images, self.labels, self._next_order())
    jax.block_until_ready(self.carry)
    return calls * self.steps_per_call * self.batch_size / (time.perf_counter() - start)


def load_config(entry: str, data_dir: str | None):
  """An entry of --configs: an experiment name, then overrides key=value (Python literals)."""
  from dvae_jax import configs
  from dvae_jax.configs import load_experiment

  name, *overrides = entry.split()
  config = load_experiment(name)
  for override in overrides:
    configs.apply_override(config, override)
  config.num_devices = 1
  config.train.progress_bar = False
  if data_dir:
    config.data.dir = data_dir
  return config


def parse_on_device(value: str) -> bool | str:
  return {"true": True, "false": False, "auto": "auto"}[value.lower()]


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--peer", choices=("torch", "bare"), default="torch")
  parser.add_argument(
    "--configs",
    nargs="+",
    default=None,
    help="default: the reference VAE and DVAE (torch), or the three models of the module docstring (bare)",
  )
  parser.add_argument("--fast-ops", default="auto", help="comma-separated model.network.fast_ops values to time")
  parser.add_argument("--steps-per-dispatch", default="1", help="comma-separated train.steps_per_dispatch values")
  parser.add_argument("--on-device", default="auto", help="comma-separated data.on_device values (auto, true, false)")
  parser.add_argument("--windows", type=int, default=5)
  parser.add_argument("--steps", type=int, default=20, help="steps per window")
  parser.add_argument("--seconds", type=float, default=None, help="bare peer: windows of at least this long instead")
  parser.add_argument("--bare-steps", type=int, default=100, help="steps per call of the bare loop (lax.scan)")
  parser.add_argument("--threads", type=int, default=2, help="PyTorch intra-op threads")
  parser.add_argument("--data-dir", default=None)
  parser.add_argument("--no-torch", action="store_true", help="time only the JAX steps")
  parser.add_argument("--out", default=None, help="also write the markdown table here")
  args = parser.parse_args()
  torch_peer = args.peer == "torch" and not args.no_torch
  if torch_peer and importlib.util.find_spec("torch") is None:
    parser.error('the PyTorch twin needs torch: pip install -e ".[bench]", or time only JAX with --no-torch')
  entries = args.configs or (BARE_MODELS if args.peer == "bare" else ["mnist_vae", "mnist_dvae"])

  gemm = gemm_flops_per_second() if args.peer == "torch" else None
  peer_label = {"torch": "PyTorch eager", "bare": "the bare jitted loop"}[args.peer]
  header = f"| config | implementation | images/s (median of windows) | vs {peer_label} | CPU us per image (median) |"
  rows = [
    header + (" GFLOP/s | of the GEMM rate |" if gemm else ""),
    "|---|---|---|---|---|" + ("---|---|" if gemm else ""),
  ]
  for entry in entries:
    runners = {}
    for fast_ops in args.fast_ops.split(","):
      for on_device in map(parse_on_device, args.on_device.split(",")):
        for per_dispatch in (int(k) for k in args.steps_per_dispatch.split(",")):
          config = load_config(entry, args.data_dir)
          if "fast_ops" in config.model.network:
            config.model.network.fast_ops = fast_ops
          config.train.steps_per_dispatch = per_dispatch
          config.data.on_device = on_device
          if args.peer == "torch":  # the PyTorch twin's split: --steps batches
            config.data.train_limit = args.steps * config.train.batch_size
          runner = JaxRunner(config)
          where = "device" if runner.experiment.train_on_device is not None else "host"
          label = f"dvae-jax (rows on the {where}, steps_per_dispatch={per_dispatch}"
          label += f", fast_ops={fast_ops})" if args.fast_ops != "auto" else ")"
          runners[label] = runner
    first = next(iter(runners.values()))
    if torch_peer:
      split = first.experiment.splits.train
      runners[peer_label] = TorchRunner("dvae" in entry, first.batch_size, args.threads, split.images, split.labels)
    elif args.peer == "bare":
      runners[peer_label] = BareLoop(first.experiment, args.bare_steps)
    steps = args.steps
    if args.seconds and args.peer == "bare":  # whole calls of the peer lasting at least --seconds
      peer = runners[peer_label]
      rate = max(peer.window(peer.steps_per_call) for _ in range(3))  # a stray slow call would shrink every window
      steps = peer.steps_per_call * max(1, round(args.seconds * rate / peer.batch_size / peer.steps_per_call))
    rates, cpu = {label: [] for label in runners}, {label: [] for label in runners}
    for _ in range(args.windows):  # interleaved windows: every implementation sees the same machine state
      for label, runner in runners.items():
        wall, processor = time.perf_counter(), time.process_time()
        rate = runner.window(steps)
        wall, processor = time.perf_counter() - wall, time.process_time() - processor
        rates[label].append(rate)
        cpu[label].append(1e6 * processor / (rate * wall))  # CPU microseconds (all threads) per image
    medians = {label: statistics.median(r) for label, r in rates.items()}
    peer_rate = medians.get(peer_label)
    for label, rate in medians.items():
      ratio = f"{rate / peer_rate:.2f}x" if peer_rate else "-"
      name = getattr(runners[label], "description", label)
      row = f"| {entry} | {name} | {rate:.0f} | {ratio} | {statistics.median(cpu[label]):.1f} |"
      if gemm:
        runner = runners[label]
        if isinstance(runner, JaxRunner):
          flops = runner.flops_per_step * rate / runner.batch_size
          row += f" {flops / 1e9:.1f} | {100 * flops / gemm:.0f}% |"
        else:
          row += " - | - |"
      rows.append(row)
    print(f"{entry} ({steps} steps per window): " + ", ".join(f"{k} {[round(r) for r in v]}" for k, v in rates.items()))
  batch_sizes = sorted({load_config(entry, args.data_dir).train.batch_size for entry in entries})
  setting = f"float32 GEMM rate {gemm / 1e9:.1f} GFLOP/s; " if gemm else ""
  table = "\n".join(
    [
      f"Machine: {machine()}; {setting}batch {', '.join(map(str, batch_sizes))}; {args.windows} windows each, "
      "interleaved; medians.",
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
