"""dvae-jax: denoising and variational autoencoders in JAX.

From Python (imported on first use, so `import dvae_jax` stays light):
  dvae_jax.load_experiment("mnist_vae:smoke")   an experiment's config (configs.load_experiment)
  dvae_jax.train_and_evaluate(config, workdir)  train, or resume, validating every epoch
  dvae_jax.restore_run(workdir)                 a trained run: encode / decode / reconstruct / sample
  dvae_jax.evaluate_checkpoint(workdir)         the test metrics `dvae evaluate` prints
  dvae_jax.save_checkpoint(experiment, state, workdir)   a state stepped by hand, as a checkpoint of the run
"""

import importlib

__version__ = "0.2.0"

_PUBLIC = {
  "load_experiment": "dvae_jax.configs",
  "train_and_evaluate": "dvae_jax.train",
  "restore_run": "dvae_jax.inference",
  "evaluate_checkpoint": "dvae_jax.evaluate",
  "save_checkpoint": "dvae_jax.workdir",
}
__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str):
  if name in _PUBLIC:
    return getattr(importlib.import_module(_PUBLIC[name]), name)
  raise AttributeError(f"module 'dvae_jax' has no attribute {name!r}")
