"""An independent PyTorch (eager) twin of the reference VAE and DVAE, for scripts/benchmark.py.

The same networks, losses and optimizer as dvae_jax's reference configs (REFERENCE.md section 1):
5x5 convs with frozen-affine batch norm (eps 1e-3), 3x3/2 SAME max-pools, FC 3136-384-192, z = 50,
the label head, the mirrored decoder with 5x5/2 transposed convs, summed sigmoid cross-entropy +
analytic KL + label cross-entropy (+ the DAE's terms for the DVAE), L2 5e-4 on dense weights and
biases and conv biases, Adam lr 0.01 after clipping each gradient entry to [-5, 5]. Written for
timing, in PyTorch's own idioms (NCHW); it is not used to produce any result of the project.
"""

import torch
import torch.nn.functional as F
from torch import nn


def _bn(features: int, dims: int) -> nn.Module:
  cls = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
  return cls(features, eps=1e-3, momentum=0.001, affine=False)  # TF decay 0.999, fixed scale / offset


class Trunk(nn.Module):
  def __init__(self, channels=(64, 64), fc_sizes=(384, 192), in_channels=1, side=28):
    super().__init__()
    self.convs, self.conv_bns = nn.ModuleList(), nn.ModuleList()
    for c in channels:
      self.convs.append(nn.Conv2d(in_channels, c, 5, padding=2))
      self.conv_bns.append(_bn(c, 2))
      in_channels, side = c, -(-side // 2)
    features = in_channels * side * side
    self.fcs, self.fc_bns = nn.ModuleList(), nn.ModuleList()
    for f in fc_sizes:
      self.fcs.append(nn.Linear(features, f))
      self.fc_bns.append(_bn(f, 1))
      features = f

  def forward(self, x):
    for conv, bn in zip(self.convs, self.conv_bns, strict=True):
      x = F.relu(bn(conv(x)))
      x = F.max_pool2d(F.pad(x, (0, 1, 0, 1), value=float("-inf")), 3, 2)  # TF's SAME: pad after
    x = x.flatten(1)
    for fc, bn in zip(self.fcs, self.fc_bns, strict=True):
      x = F.relu(bn(fc(x)))
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
      self.bns.append(_bn(f, 1))
      in_features = f
    self.grid, self.channels = grid, channels
    self.deconv = nn.ConvTranspose2d(channels, channels, 5, stride=2, padding=2, output_padding=1)
    self.deconv_bn = _bn(channels, 2)
    self.out = nn.ConvTranspose2d(channels, 1, 5, stride=2, padding=2, output_padding=1)

  def forward(self, z):
    for i, (fc, bn) in enumerate(zip(self.fcs, self.bns, strict=True)):
      z = bn(fc(z))
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
    l2 = sum(
      p.square().sum()
      for name, p in self.named_parameters()
      if p.dim() < 4  # dense weights and biases, conv biases: the reference's set
    )
    return loss + 5e-4 * l2 / 2


def make_step(dvae: bool, seed: int = 0):
  """(step(x, labels) -> loss, model): one Adam step with gradients clipped at +-5."""
  torch.manual_seed(seed)
  model = ReferenceModel(dvae).train()
  optimizer = torch.optim.Adam(model.parameters(), lr=0.01, eps=1e-8)

  def step(x, labels):
    optimizer.zero_grad(set_to_none=True)
    loss = model.loss(x, labels)
    loss.backward()
    torch.nn.utils.clip_grad_value_(model.parameters(), 5.0)
    optimizer.step()
    return loss

  return step, model


def profile(dvae: bool, *, steps: int = 10, threads: int = 2, top: int = 20) -> str:
  """torch.profiler's per-op table (self CPU time per step) of `steps` train steps at batch 64 on
  random inputs (the op costs do not depend on the pixel values), after 3 warm-up steps."""
  from torch.profiler import ProfilerActivity
  from torch.profiler import profile as torch_profile

  torch.set_num_threads(threads)
  step, _ = make_step(dvae)
  x, labels = torch.rand(64, 1, 28, 28), torch.randint(0, 10, (64,))
  for _ in range(3):
    step(x, labels)
  with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
    for _ in range(steps):
      step(x, labels)
  events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
  rows = ["| op | calls/step | self CPU ms/step |", "|---|---|---|"]
  rows += [f"| {e.key} | {e.count // steps} | {e.self_cpu_time_total / steps / 1e3:.1f} |" for e in events[:top]]
  rows.append(f"| all ops | | {sum(e.self_cpu_time_total for e in events) / steps / 1e3:.1f} |")
  return "\n".join(rows)


if __name__ == "__main__":
  import argparse

  parser = argparse.ArgumentParser(description="Per-op profile of the PyTorch twin's train step (batch 64).")
  parser.add_argument("--dvae", action="store_true", help="the DVAE instead of the reference VAE")
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--threads", type=int, default=2)
  args = parser.parse_args()
  print(profile(args.dvae, steps=args.steps, threads=args.threads))
