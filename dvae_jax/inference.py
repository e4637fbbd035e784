"""A trained run from Python: `restore_run(workdir)` rebuilds the experiment of a workdir from its
`config.json` and its latest checkpoint (checked against its digest), for evaluation, figures and
notebooks; a `Run` encodes, decodes, reconstructs and samples images. It only reads the workdir.
"""

import dataclasses
import pathlib

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from dvae_jax import batch_norm
from dvae_jax.data import Split
from dvae_jax.experiment import Experiment, TrainState
from dvae_jax.workdir import read_run

SPLITS = ("train", "valid", "test")


@dataclasses.dataclass(frozen=True)
class Run:
  """A trained run restored from its workdir."""

  workdir: pathlib.Path
  experiment: Experiment
  state: TrainState
  step: int
  recomputed_batch_norm: int = 0  # training batches batch norm's statistics were recomputed on (0: not)
  _jitted: dict = dataclasses.field(default_factory=dict, init=False, repr=False, compare=False)

  def split(self, name: str) -> Split:
    """The run's "train", "valid" or "test" split (uint8 images as stored, labels, ids)."""
    if name not in SPLITS:
      raise ValueError(f"run.split({name!r}): no such split; expected one of {', '.join(map(repr, SPLITS))}.")
    return getattr(self.experiment.splits, name)

  # The model from Python. Images go in as the dataset stores them (uint8 [N, H, W, C], e.g.
  # `run.split("test").take(np.arange(8))["image"]`) and are preprocessed as in training
  # (inverted, binarized: see `inputs`); outputs are images in [0, 1] [N, H, W, C]: the likelihood's
  # mean, i.e. probabilities, or a linear output (gaussian_mean "identity") clipped to [0, 1].

  def inputs(self, images: np.ndarray, ids: np.ndarray | None = None) -> jax.Array:
    """The model's inputs (floats in [0, 1]) for `images` as the dataset stores them. A binarized
    run binarizes each image with the draw of its example id (`ids`, default 0 .. N-1)."""
    return self.experiment.prepare(self._host_batch(images, ids))["image"]

  def encode(self, images: np.ndarray) -> tuple[jax.Array, jax.Array]:
    """Posterior mean and log-variance [N, z] of a latent-variable model."""
    return self._compiled("encode")(self.state, self.inputs(images))

  def decode(self, z: np.ndarray | jax.Array) -> np.ndarray:
    """Codes [..., N, z] -> the model's output images [..., N, H, W, C]."""
    z = jnp.asarray(z, jnp.float32)
    latent_dim = self.latent_dim
    if z.ndim < 2 or z.shape[-1] != latent_dim:
      raise ValueError(
        f"run.decode expects codes of shape [N, {latent_dim}] (or [..., N, {latent_dim}]: this model's latent has "
        f"{latent_dim} dimensions); got shape {list(z.shape)}. Codes from run.encode(images)[0], or "
        f"np.zeros((N, {latent_dim})), fit."
      )
    return np.asarray(self._compiled("decode")(self.state, z))

  @property
  def latent_dim(self) -> int:
    """The size of the model's code (of `encode`'s posterior mean)."""
    if "latent_dim" not in self._jitted:  # the one cache of what is derived from the model
      images = jax.ShapeDtypeStruct((1, *self.experiment.splits.raw_image_shape), jnp.float32)
      self._jitted["latent_dim"] = jax.eval_shape(self._compiled("encode"), self.state, images)[0].shape[-1]
    return self._jitted["latent_dim"]

  def reconstruct(self, images: np.ndarray, *, key: jax.Array | None = None) -> np.ndarray:
    """One stochastic reconstruction of each image (eval mode), from `key` (default: the run's sample key)."""
    self._check_methods("reconstruct")
    key = self.experiment.keys["sample"] if key is None else key
    recon = self.experiment.reconstruct(self.state, self._host_batch(images), key)[1]
    return np.asarray(self.experiment.hparams.image(recon))

  def sample(self, num: int, *, key: jax.Array | None = None) -> np.ndarray:
    """`num` images decoded from draws of the prior (default key: the run's sample key)."""
    key = self.experiment.keys["sample"] if key is None else key
    return np.asarray(self._compiled("sample")(self.state, key, num))

  def _host_batch(self, images: np.ndarray, ids: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """`images` checked to be as the dataset stores them, as a batch `Experiment.prepare` takes."""
    images = np.asarray(images)
    expected = self.experiment.splits.raw_image_shape
    if images.dtype != np.uint8 or images.ndim != 4 or tuple(images.shape[1:]) != tuple(expected):
      raise ValueError(
        f"expected images as the dataset stores them: uint8 [N, {', '.join(map(str, expected))}] in 0-255; got "
        f"{images.dtype} {list(images.shape)}. Use run.split('test').take(index)['image'], or convert floats in "
        "[0, 1] with (255 * x).round().astype(np.uint8)."
      )
    ids = np.arange(len(images)) if ids is None else np.asarray(ids)
    return {"image": images, "id": ids, "label": np.zeros(len(images), np.int32)}

  def _check_methods(self, *methods: str) -> None:
    missing = [method for method in methods if not hasattr(self.experiment.model, method)]
    if missing:
      raise AttributeError(f"the {self.experiment.hparams.family!r} family's model has no {' or '.join(missing)}.")

  def _compiled(self, name: str):
    """The jitted `encode` (state, x) -> (mean, logvar), `decode` (state, z) -> images in [0, 1] or
    `sample` (state, key, num) -> images of num prior draws, compiled once per run."""
    if name not in self._jitted:
      model, hparams = self.experiment.model, self.experiment.hparams

      def encode(state, x):
        return model.apply(Experiment.variables(state), x, method="encode")

      def decode(state, z):
        return hparams.image(hparams.mean(model.apply(Experiment.variables(state), z, method="output_logits")))

      def sample(state, key, num):
        variables = Experiment.variables(state)
        z = model.apply(variables, key, num, method="sample_prior")
        return hparams.image(hparams.mean(model.apply(variables, z, method="output_logits")))

      methods = {"encode": ("encode",), "decode": ("output_logits",), "sample": ("sample_prior", "output_logits")}
      self._check_methods(*methods[name])
      fn = {"encode": encode, "decode": decode, "sample": sample}[name]
      self._jitted[name] = jax.jit(fn, static_argnums=2 if name == "sample" else ())
    return self._jitted[name]


def restore_run(
  workdir: str | pathlib.Path,
  config: ml_collections.ConfigDict | None = None,
  *,
  recompute_batch_norm: int | None = None,
) -> Run:
  """Rebuilds the experiment of `workdir` (from its config.json unless given) and its latest state.

  With `recompute_batch_norm` (else `config.eval.recompute_batch_norm`) N > 0, batch norm's running
  statistics are recomputed with the final parameters on N training batches first
  (batch_norm.recompute_batch_norm_statistics); the checkpoint itself is not changed.
  """
  workdir = pathlib.Path(workdir)
  experiment, state, step = read_run(workdir, config)
  batches = experiment.config.eval.recompute_batch_norm if recompute_batch_norm is None else recompute_batch_norm
  if batches:
    state = batch_norm.recompute_batch_norm_statistics(experiment, state, batches)
  return Run(workdir, experiment, state, step, recomputed_batch_norm=batches)
