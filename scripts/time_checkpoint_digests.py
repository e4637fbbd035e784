"""What checking checkpoint digests costs: save and restore times of a train state with and without
them, for the reference DVAE on MNIST and for the largest network here (the face VAE of
xuganyu96/VAE-GAN-learnable-loss, `face_dcgan`, z = 512, 223 M parameters), each with Adam's two
moment trees as in training.

  python scripts/time_checkpoint_digests.py [--repeats 3] [--networks reference,face_dcgan]

"Without" is orbax alone (what dvae-jax did before digests); "with" is dvae_jax.checkpoint's
Checkpointer, which hashes every array (SHA-256) when it saves and again after it restores. The
states are random arrays of the networks' exact shapes: hashing and writing cost the same for any
values. Times are medians over `--repeats`, on a local disk, one CPU device. Prints a markdown table.
"""

import argparse
import pathlib
import shutil
import statistics
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from dvae_jax import benchmarking
from dvae_jax.checkpoint import Checkpointer, state_digests
from dvae_jax.models import default_model_config, get_family, model_config

NETWORKS = {
  # name: (family, network, image shape, model overrides)
  "reference": ("dvae", None, (28, 28, 1), {}),
  "face_dcgan": ("vae", "face_dcgan", (64, 64, 3), {"latent_dim": 512, "label_head": False}),
}


def random_state(name: str) -> dict:
  """A train state of the network's shapes: step, params, batch statistics, Adam's mu and nu."""
  family, network, shape, overrides = NETWORKS[name]
  section = default_model_config(family, network)
  section.update(**overrides)
  model = get_family(family).module(model_config(section, image_shape=shape, num_classes=10))
  variables = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, *shape)), train=False))
  rng = np.random.default_rng(0)
  fill = lambda tree: jax.tree.map(lambda s: jnp.asarray(rng.standard_normal(s.shape, np.float32)), tree)  # noqa: E731
  params = fill(variables["params"])
  return {
    "step": jnp.int32(1),
    "params": params,
    "model_state": {"batch_stats": fill(variables.get("batch_stats", {}))},
    "opt_state": {"mu": fill(variables["params"]), "nu": fill(variables["params"])},
  }


def timed(fn) -> float:
  start = time.perf_counter()
  jax.block_until_ready(fn())
  return time.perf_counter() - start


def measure(state: dict, root: pathlib.Path, repeats: int) -> dict[str, float]:
  abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), state)
  restore = ocp.args.Composite(state=ocp.args.StandardRestore(abstract))
  times: dict[str, list[float]] = {}
  for repeat in range(repeats):
    plain_dir, checked_dir = root / f"plain{repeat}", root / f"checked{repeat}"
    plain = ocp.CheckpointManager(plain_dir, item_names=("state",))
    checked = Checkpointer(checked_dir)

    def save_plain(manager=plain):
      manager.save(1, args=ocp.args.Composite(state=ocp.args.StandardSave(state)))
      manager.wait_until_finished()

    def save_checked(checkpointer=checked):
      checkpointer.save(1, state, {"step": 1})
      checkpointer.wait()

    times.setdefault("digest", []).append(timed(lambda: state_digests(state)))
    times.setdefault("save_without", []).append(timed(save_plain))
    times.setdefault("save_with", []).append(timed(save_checked))
    times.setdefault("restore_without", []).append(timed(lambda m=plain: m.restore(1, args=restore).state))
    times.setdefault("restore_with", []).append(timed(lambda c=checked: c.restore(1, abstract)))
    plain.close()
    checked.close()
    shutil.rmtree(plain_dir)
    shutil.rmtree(checked_dir)
  return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--networks", default=",".join(NETWORKS))
  args = parser.parse_args()
  print(benchmarking.machine())
  print("| network | state, MB | save without | save with | restore without | restore with | SHA-256 of the state |")
  print("|---|---|---|---|---|---|---|")
  for name in args.networks.split(","):
    state = random_state(name)
    megabytes = sum(x.nbytes for x in jax.tree.leaves(state)) / 2**20
    with tempfile.TemporaryDirectory(prefix="dvae-digest-timing-") as root:
      t = measure(state, pathlib.Path(root), args.repeats)
    print(
      f"| {name} | {megabytes:,.0f} | {t['save_without']:.2f} s | {t['save_with']:.2f} s | "
      f"{t['restore_without']:.2f} s | {t['restore_with']:.2f} s | {t['digest']:.2f} s |"
    )


if __name__ == "__main__":
  main()
