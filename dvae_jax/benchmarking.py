"""Timing helpers for scripts/benchmark.py, profile_step.py and time_nll.py: this machine in words,
its float32 GEMM rate, a runner that
times an experiment's real jitted train step, and an independent PyTorch (eager) twin of the
reference VAE and DVAE to race it. torch is imported only by the twin (`pip install -e ".[bench]"`).
"""

import functools
import os
import platform
import time
import types

import jax
import jax.numpy as jnp
import numpy as np


def _cpu_model(default: str) -> str:
  try:
    with open("/proc/cpuinfo") as f:
      return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
  except (OSError, StopIteration):
    return default


def machine() -> str:
  """This machine in one line: CPU model, cores, jax version and backend."""
  model = _cpu_model(platform.processor() or "unknown CPU")
  return f"{model}, {os.cpu_count()} cores, jax {jax.__version__}, backend {jax.default_backend()}"


def _timed(fn) -> float:
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def gemm_flops_per_second(n: int = 2048, repeats: int = 10) -> float:
  """This machine's float32 GEMM rate through XLA (n x n x n, best of `repeats`)."""
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  matmul = jax.jit(lambda a: a @ a)
  matmul(a).block_until_ready()
  best = min(_timed(lambda: matmul(a).block_until_ready()) for _ in range(repeats))
  return 2 * n**3 / best


class JaxRunner:
  """An experiment's real training path, as `dvae train` takes it: each dispatch's rows of the
  epoch's order (`data.train_batches`) passed to `Experiment.train_step`, which gathers them inside
  the step from the training split on the devices or on the host (data.on_device), one dispatch
  queued behind the running one. Compiled and warmed up; `window(steps)` times it."""

  def __init__(self, config):
    from dvae_jax.experiment import build_experiment

    self.experiment = build_experiment(config)
    self.batch_size = config.train.batch_size
    self.steps_per_dispatch = config.train.steps_per_dispatch
    self.state = self.experiment.init_state()
    self.epoch, self._chunks = 0, iter(())
    self.first_rows = self._next_rows()
    compiled = self.experiment.train_step.lower(self.state, self.first_rows).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    self.flops_per_step = float(cost.get("flops", float("nan"))) / self.steps_per_dispatch
    remainder = self.experiment.steps_per_epoch % self.steps_per_dispatch
    if remainder:  # the epoch's last, shorter dispatch compiles once too (outside any window)
      last = self._rows(self.epoch, start_step=self.experiment.steps_per_epoch - remainder)
      self.state, _ = self.experiment.train_step(self.state, next(last)[1])
    self.window(2 * self.steps_per_dispatch)  # warm-up

  def _rows(self, epoch: int, start_step: int = 0):
    from dvae_jax.data import train_batches

    return train_batches(
      self.experiment.splits.train,
      key=self.experiment.keys["data"],
      epoch=epoch,
      batch_size=self.batch_size,
      start_step=start_step,
      steps_per_dispatch=self.steps_per_dispatch,
    )

  def _next_rows(self):
    for _, rows in self._chunks:
      return rows
    self.epoch += 1
    self._chunks = self._rows(self.epoch)
    return next(self._chunks)[1]

  def window(self, steps: int) -> float:
    """Images per second over at least `steps` train steps (dispatch through completion)."""
    done, queued = 0, None
    start = time.perf_counter()
    while done < steps:
      rows = self._next_rows()
      self.state, metrics = self.experiment.train_step(self.state, rows)
      if queued is not None:
        jax.block_until_ready(queued)  # as dvae train: one dispatch stays queued behind the running one
      queued, done = metrics, done + len(rows)
    jax.block_until_ready(self.state)
    return done * self.batch_size / (time.perf_counter() - start)


class TorchRunner:
  """The PyTorch twin's train step on the same images (uint8, NHWC) in batches of `batch_size`."""

  def __init__(self, dvae: bool, batch_size: int, threads: int, images: np.ndarray, labels: np.ndarray):
    torch = torch_twin().torch
    torch.set_num_threads(threads)
    self.torch, self.batch_size = torch, batch_size
    self.step, _ = torch_train_step(dvae)
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


@functools.cache
def torch_twin() -> types.SimpleNamespace:
  """The PyTorch twin of the reference VAE and DVAE (dojoteef/dvae, docs/reference.md): the same networks,
  losses and optimizer as dvae_jax's reference configs: 5x5 convs with frozen-affine batch norm (eps
  1e-3), 3x3/2 SAME max-pools, FC 3136-384-192, z = 50, the label head, the mirrored decoder with 5x5/2
  transposed convs, summed sigmoid cross-entropy + analytic KL + label cross-entropy (+ the DAE's terms
  for the DVAE), L2 5e-4 on dense weights and biases and conv biases, Adam lr 0.01 after clipping each
  gradient entry to [-5, 5]. Written for timing, in PyTorch's own idioms (NCHW); it produces no result
  of the project. Returns the namespace (torch, ReferenceModel)."""
  try:
    import torch
    import torch.nn.functional as F
    from torch import nn
  except ImportError as e:
    raise ImportError(f'the PyTorch twin needs torch ({e}): pip install -e ".[bench]"') from e

  def bn(features: int, dims: int) -> nn.Module:
    cls = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
    return cls(features, eps=1e-3, momentum=0.001, affine=False)  # TF decay 0.999, fixed scale / offset

  class Trunk(nn.Module):
    def __init__(self, channels=(64, 64), fc_sizes=(384, 192), in_channels=1, side=28):
      super().__init__()
      self.convs, self.conv_bns = nn.ModuleList(), nn.ModuleList()
      for c in channels:
        self.convs.append(nn.Conv2d(in_channels, c, 5, padding=2))
        self.conv_bns.append(bn(c, 2))
        in_channels, side = c, -(-side // 2)
      features = in_channels * side * side
      self.fcs, self.fc_bns = nn.ModuleList(), nn.ModuleList()
      for f in fc_sizes:
        self.fcs.append(nn.Linear(features, f))
        self.fc_bns.append(bn(f, 1))
        features = f

    def forward(self, x):
      for conv, norm in zip(self.convs, self.conv_bns, strict=True):
        x = F.relu(norm(conv(x)))
        x = F.max_pool2d(F.pad(x, (0, 1, 0, 1), value=float("-inf")), 3, 2)  # TF's SAME: pad after
      x = x.flatten(1)
      for fc, norm in zip(self.fcs, self.fc_bns, strict=True):
        x = F.relu(norm(fc(x)))
      return x

  class Inference(nn.Module):
    def __init__(self, latent=50, classes=10):
      super().__init__()
      self.trunk = Trunk()
      self.mean, self.logvar, self.label = nn.Linear(192, latent), nn.Linear(192, latent), nn.Linear(192, classes)

    def forward(self, x):
      h = self.trunk(x)
      return h, self.mean(h), self.logvar(h), self.label(h)

  class Generator(nn.Module):
    def __init__(self, in_features=50, fc_sizes=(192, 384), channels=64, grid=7):
      super().__init__()
      self.fcs, self.bns = nn.ModuleList(), nn.ModuleList()
      for f in (*fc_sizes, channels * grid * grid):
        self.fcs.append(nn.Linear(in_features, f))
        self.bns.append(bn(f, 1))
        in_features = f
      self.grid, self.channels = grid, channels
      self.deconv = nn.ConvTranspose2d(channels, channels, 5, stride=2, padding=2, output_padding=1)
      self.deconv_bn = bn(channels, 2)
      self.out = nn.ConvTranspose2d(channels, 1, 5, stride=2, padding=2, output_padding=1)

    def forward(self, z):
      for i, (fc, norm) in enumerate(zip(self.fcs, self.bns, strict=True)):
        z = norm(fc(z))
        z = F.relu(z) if i < len(self.fcs) - 1 else z
      x = z.view(-1, self.channels, self.grid, self.grid)
      return self.out(F.relu(self.deconv_bn(self.deconv(x))))

  class ReferenceModel(nn.Module):
    """The reference VAE (dvae=False) or DVAE (dvae=True) with its per-batch objective."""

    def __init__(self, dvae: bool):
      super().__init__()
      self.inference, self.generator = Inference(), Generator()
      self.dae_generator = Generator(in_features=192) if dvae else None

    def loss(self, x, labels):
      _, mean, logvar, label_logits = self.inference(x)
      z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
      logits = self.generator(z)
      loss = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
      loss = loss - 0.5 * torch.sum(1 + logvar - torch.exp(logvar) - mean.square())
      loss = loss + F.cross_entropy(label_logits, labels, reduction="sum")
      if self.dae_generator is not None:
        features, _, _, generated_label_logits = self.inference(torch.sigmoid(logits))
        loss = loss + F.binary_cross_entropy_with_logits(self.dae_generator(features), x, reduction="sum")
        loss = loss + F.cross_entropy(generated_label_logits, labels, reduction="sum")
      # dense weights and biases, conv biases: the reference's set
      l2 = sum(p.square().sum() for name, p in self.named_parameters() if p.dim() < 4)
      return loss + 5e-4 * l2 / 2

  return types.SimpleNamespace(torch=torch, ReferenceModel=ReferenceModel)


def torch_train_step(dvae: bool, seed: int = 0):
  """(step(x, labels) -> loss, model): one Adam step of the PyTorch twin, gradients clipped at +-5."""
  twin = torch_twin()
  twin.torch.manual_seed(seed)
  model = twin.ReferenceModel(dvae).train()
  optimizer = twin.torch.optim.Adam(model.parameters(), lr=0.01, eps=1e-8)

  def step(x, labels):
    optimizer.zero_grad(set_to_none=True)
    loss = model.loss(x, labels)
    loss.backward()
    twin.torch.nn.utils.clip_grad_value_(model.parameters(), 5.0)
    optimizer.step()
    return loss

  return step, model


def torch_profile(dvae: bool, *, steps: int = 10, threads: int = 2, top: int = 20) -> str:
  """torch.profiler's per-op table (self CPU time per step) of `steps` train steps of the PyTorch twin
  at batch 64 on random inputs (the op costs do not depend on the pixel values), after 3 warm-up steps."""
  torch = torch_twin().torch
  from torch.profiler import ProfilerActivity, profile

  torch.set_num_threads(threads)
  step, _ = torch_train_step(dvae)
  x, labels = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
  for _ in range(3):
    step(x, labels)
  with profile(activities=[ProfilerActivity.CPU]) as prof:
    for _ in range(steps):
      step(x, labels)
  events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
  rows = ["| op | calls/step | self CPU ms/step |", "|---|---|---|"]
  rows += [f"| {e.key} | {e.count // steps} | {e.self_cpu_time_total / steps / 1e3:.1f} |" for e in events[:top]]
  rows.append(f"| all ops | | {sum(e.self_cpu_time_total for e in events) / steps / 1e3:.1f} |")
  return "\n".join(rows)
