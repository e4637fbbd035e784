"""Fault loop: kill a short training with SIGKILL at N random instants, rerun it after each kill, and
check that it ends bitwise equal to an uninterrupted run, losing no more than one checkpoint
interval of logged steps at any kill.

  python scripts/fault_loop.py                      # 20 kills of a smoke VAE run (a few minutes on 2 cores)
  python scripts/fault_loop.py --kills 50 --seed 1 --config experiments/mnist_dvae.py:smoke

Every other kill waits for orbax to start writing a checkpoint (its temporary directory appears)
and kills then, so that kills land inside checkpoint writes; the others come at a uniformly random
time within what the attempt has left to run: its startup (imports, data, compilation from the
cache) plus the remaining steps at the uninterrupted run's pace. A run that finishes before its
kill does not count, and the loop starts again from an empty workdir. After each kill
the script records the latest complete checkpoint and the last step in `metrics.jsonl` (a step
is logged only after it finished): the difference is what the kill lost. Logging and
checkpointing share one interval here, so that difference must not exceed it. At the end: the
final train state (every array) and the metrics records (wall-clock entries aside) must equal the
uninterrupted run's. Then a corruption case: 64 bytes of the newest checkpoint's largest array
chunk are flipped in a copy of the uninterrupted run, and a rerun must refuse it (exit 1, naming the
intact steps, changing no file), and, once the command the message gives has moved it aside,
resume from the newest intact checkpoint and end bitwise equal again. Prints a table and exits 1
if a check fails. Not part of the test suite.
"""

import argparse
import json
import logging
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np

from dvae_jax.checkpoint import load_host_state
from dvae_jax.metric_writer import reproducible_records

REPO = pathlib.Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--config", default="experiments/mnist_vae.py:smoke")
  parser.add_argument("--kills", type=int, default=20)
  parser.add_argument("--seed", type=int, default=0, help="seed of the kill instants")
  parser.add_argument("--epochs", type=int, default=6)
  parser.add_argument("--interval", type=int, default=4, help="steps between checkpoints (and log records)")
  parser.add_argument("--workdir", default=None, help="default: a new temporary directory")
  parser.add_argument("--out", default=None, help="also write the table and summary as JSON here")
  return parser.parse_args()


def command(args: argparse.Namespace, workdir: pathlib.Path) -> list[str]:
  return [
    sys.executable,
    "-m",
    "dvae_jax.main",
    "train",
    "--config",
    args.config,
    "--workdir",
    str(workdir),
    "--config.train.progress_bar=false",
    f"--config.train.num_epochs={args.epochs}",
    f"--config.train.checkpoint_every_steps={args.interval}",
    f"--config.train.log_every_steps={args.interval}",
    "--config.train.max_checkpoints=2",
  ]


def environment(cache: pathlib.Path) -> dict[str, str]:
  # One CPU device (as a user's plain run), and a shared compilation cache so restarts are quick.
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  return {**env, "JAX_COMPILATION_CACHE_DIR": str(cache), "JAX_PLATFORMS": env.get("JAX_PLATFORMS", "cpu")}


def complete_checkpoints(workdir: pathlib.Path) -> list[int]:
  directory = workdir / "checkpoints"
  return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit()) if directory.is_dir() else []


def temporary_checkpoints(workdir: pathlib.Path) -> set[str]:
  """orbax writes a checkpoint into a temporary directory and renames it when complete."""
  directory = workdir / "checkpoints"
  return {p.name for p in directory.iterdir() if "tmp" in p.name} if directory.is_dir() else set()


def logged_steps(workdir: pathlib.Path) -> list[int]:
  path = workdir / "metrics.jsonl"
  steps = []
  for line in path.read_text().splitlines() if path.exists() else []:
    try:
      steps.append(json.loads(line)["step"])
    except (json.JSONDecodeError, KeyError):
      pass  # an unfinished last line: the kill came during that write
  return steps


def timed_run(args, workdir: pathlib.Path, env) -> tuple[float, float]:
  """Runs to the end; returns (seconds until its first step was logged, seconds in all)."""
  start, first = time.monotonic(), None
  proc = subprocess.Popen(command(args, workdir), cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  while proc.poll() is None:
    if first is None and logged_steps(workdir):
      first = time.monotonic() - start
    time.sleep(0.01)
  _, stderr = proc.communicate()
  if proc.returncode:
    raise SystemExit(f"the uninterrupted run failed:\n{stderr.decode()[-3000:]}")
  total = time.monotonic() - start
  steps = max(logged_steps(workdir))
  # The first record comes after `interval` steps: take them off to get the startup alone.
  return (first or total) - (total - (first or total)) * args.interval / max(steps - args.interval, 1), total


def kill_once(args, workdir, env, *, at_write: bool, delay: float) -> dict:
  """Starts a (resuming) run and SIGKILLs it: at the first checkpoint write (`at_write`), else after `delay` s."""
  before, stale = complete_checkpoints(workdir), temporary_checkpoints(workdir)
  proc = subprocess.Popen(command(args, workdir), cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
  start = time.monotonic()
  while proc.poll() is None:
    elapsed = time.monotonic() - start
    if (at_write and temporary_checkpoints(workdir) - stale) or (not at_write and elapsed >= delay):
      proc.kill()
      break
    time.sleep(0.005)
  _, stderr = proc.communicate()
  finished = proc.returncode == 0
  if proc.returncode not in (0, -9):
    raise SystemExit(f"the run failed by itself (status {proc.returncode}):\n{stderr.decode()[-3000:]}")
  after = complete_checkpoints(workdir)
  logged = logged_steps(workdir)
  latest = after[-1] if after else 0
  return {
    "mode": "during a checkpoint write" if at_write else f"after {delay:.1f} s",
    "killed_after_s": round(time.monotonic() - start, 2),
    "finished_first": finished,
    "resumed_from": before[-1] if before else 0,
    "latest_checkpoint": latest,
    "last_logged_step": max(logged, default=0),
    "lost_steps": max(max(logged, default=0) - latest, 0),
  }


def flip_bytes(checkpoint: pathlib.Path, count: int = 64) -> pathlib.Path:
  """Bit rot: `count` bytes inverted in the middle of the checkpoint's largest array chunk."""
  chunk = max((p for p in (checkpoint / "state").rglob("d/*") if p.is_file()), key=lambda p: p.stat().st_size)
  data = bytearray(chunk.read_bytes())
  middle = len(data) // 2
  data[middle : middle + count] = bytes(b ^ 0xFF for b in data[middle : middle + count])
  chunk.write_bytes(bytes(data))
  return chunk


def _file_bytes(directory: pathlib.Path) -> dict[pathlib.Path, bytes]:
  return {p: p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def corruption_case(args, reference: pathlib.Path, workdir: pathlib.Path, env) -> dict:
  """A copy of the finished run with its newest checkpoint damaged: refused, then resumed as told."""
  shutil.copytree(reference, workdir)
  damaged = complete_checkpoints(workdir)[-1]
  flip_bytes(workdir / "checkpoints" / str(damaged))
  before = _file_bytes(workdir)
  refused = subprocess.run(command(args, workdir), cwd=REPO, env=env, capture_output=True, text=True)
  unchanged = before == _file_bytes(workdir)
  message = refused.stderr.strip().splitlines()[-1] if refused.stderr.strip() else ""
  advice = message.split("`")[1] if message.count("`") >= 2 else None
  resumed = equal = False
  if refused.returncode == 1 and advice:
    subprocess.run(advice, shell=True, check=True)
    resumed = subprocess.run(command(args, workdir), cwd=REPO, env=env, capture_output=True).returncode == 0
  if resumed:
    (_, a), (_, b) = load_host_state(reference / "checkpoints"), load_host_state(workdir / "checkpoints")
    equal = all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))
  return {
    "damaged_step": damaged,
    "refused_with_status": refused.returncode,
    "message": message,
    "files_unchanged_by_the_refusal": unchanged,
    "resumed_after_the_advice": resumed,
    "final_state_bitwise_equal": equal,
    "passed": refused.returncode == 1 and "Intact checkpoints (verified)" in message and unchanged and equal,
  }


def main() -> None:
  args = parse_args()
  logging.getLogger("absl").setLevel(logging.ERROR)  # orbax's notes on restoring without its metadata file
  root = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="dvae-fault-loop-"))
  shutil.rmtree(root, ignore_errors=True)
  root.mkdir(parents=True)
  env = environment(root / "xla_cache")
  reference, faulty = root / "uninterrupted", root / "killed"

  subprocess.run(command(args, root / "cold"), cwd=REPO, env=env, check=True, capture_output=True)  # fills the cache
  startup, run_seconds = timed_run(args, reference, env)
  print(f"uninterrupted run (compilation cache warm): {run_seconds:.1f} s, {startup:.1f} s of it before the first step")

  total_steps = max(logged_steps(reference))
  rng = random.Random(args.seed)
  rows = []
  while len(rows) < args.kills:
    at_write = len(rows) % 2 == 1
    latest = complete_checkpoints(faulty)
    remaining = 1 - (latest[-1] if latest else 0) / total_steps
    delay = rng.uniform(0.0, startup + (run_seconds - startup) * remaining)
    row = kill_once(args, faulty, env, at_write=at_write, delay=delay)
    if row["finished_first"]:  # the kill came after the run completed: start over, it does not count
      shutil.rmtree(faulty)
      continue
    rows.append(row)
    print(f"kill {len(rows):2d}: {row}")
  final = subprocess.run(command(args, faulty), cwd=REPO, env=env, capture_output=True, text=True)
  if final.returncode:
    raise SystemExit(f"the final rerun failed:\n{final.stderr[-3000:]}")

  (step_a, a), (step_b, b) = load_host_state(reference / "checkpoints"), load_host_state(faulty / "checkpoints")
  same_state = step_a == step_b and all(
    np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
  )
  same_metrics = reproducible_records(reference) == reproducible_records(faulty)
  corruption = corruption_case(args, reference, root / "corrupted", env)
  print(f"corruption case: {json.dumps(corruption, indent=2)}")
  worst = max(row["lost_steps"] for row in rows)
  during_writes = sum(row["mode"].startswith("during") for row in rows)
  after_resume = sum(row["resumed_from"] > 0 for row in rows)
  summary = {
    "config": args.config,
    "kills": len(rows),
    "kills_during_checkpoint_writes": during_writes,
    "kills_of_a_resumed_run": after_resume,
    "steps": step_a,
    "checkpoint_interval": args.interval,
    "most_steps_lost_at_a_kill": worst,
    "final_state_bitwise_equal": same_state,
    "metrics_equal": same_metrics,
    "corrupt_checkpoint_refused_then_resumed": corruption["passed"],
    "passed": same_state and same_metrics and worst <= args.interval and corruption["passed"],
  }
  print(json.dumps(summary, indent=2))
  if args.out:
    record = {"summary": summary, "kills": rows, "corruption": corruption}
    pathlib.Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
  if not summary["passed"]:
    sys.exit(1)


if __name__ == "__main__":
  main()
