"""Per-op profile of the PyTorch twin's train step (batch 64): the independent PyTorch (eager) twin of
the reference VAE and DVAE that scripts/benchmark.py races against dvae-jax (dvae_jax/benchmarking.py;
`pip install -e ".[bench]"`). It produces no result of the project; it shows where PyTorch's step
spends its time, beside scripts/profile_step.py's profile of the JAX step.

  python scripts/torch_reference.py                  # the reference VAE, 10 steps on 2 threads
  python scripts/torch_reference.py --dvae --steps 20
"""

import argparse
import importlib.util

from dvae_jax.benchmarking import torch_profile


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--dvae", action="store_true", help="the DVAE instead of the reference VAE")
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--threads", type=int, default=2)
  args = parser.parse_args()
  if importlib.util.find_spec("torch") is None:
    parser.error('the PyTorch twin needs torch: pip install -e ".[bench]"')
  print(torch_profile(args.dvae, steps=args.steps, threads=args.threads))


if __name__ == "__main__":
  main()
