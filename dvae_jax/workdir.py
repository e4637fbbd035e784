"""A run's working directory: preparing it, and restoring a run from it.

`prepare_workdir` checks that a workdir can be written before any work; `restore_or_init` resumes
the latest checkpoint of the experiment (after checking it belongs to it) or starts fresh;
`restore_run(workdir)` rebuilds a trained run from its `config.json` and latest checkpoint, for
evaluation, figures and notebooks: a `Run` encodes, decodes, reconstructs and samples images.
"""

import contextlib
import dataclasses
import logging
import os
import pathlib
import tempfile
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from dvae_jax import batch_norm, configs, parallel, preemption, workdir_lock
from dvae_jax.checkpoint import Checkpointer, CheckpointError, CheckpointRemoved
from dvae_jax.data import Split
from dvae_jax.errors import WorkdirError
from dvae_jax.experiment import Experiment, TrainState, build_experiment
from dvae_jax.models import ARCHITECTURES


def prepare_workdir(workdir: pathlib.Path) -> None:
  """Creates `workdir` if needed and checks that files can be written in it, before any work."""
  if workdir.exists() and not workdir.is_dir():
    raise WorkdirError(
      f"--workdir {workdir} is a file; expected a directory for the run's checkpoints and metrics (an existing "
      "run's, to resume it, or a new path, which is created). The file was not changed."
    )
  try:
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=workdir):
      pass
  except OSError as e:
    raise WorkdirError(
      f"--workdir {workdir} cannot be written ({e.strerror or e}); expected a directory this user can create files "
      "in. Nothing in it was changed."
    ) from e


def output_dir(
  workdir: pathlib.Path, out_dir: str | pathlib.Path | None, *, default: pathlib.Path, what: str
) -> pathlib.Path:
  """Where a reader of a run (evaluation, figures) writes `what`: `out_dir` if given (created),
  else `default` inside the run, if it can be written; checked before any work."""
  if out_dir is None and not os.access(workdir if not default.exists() else default, os.W_OK):
    raise WorkdirError(
      f"--workdir {workdir} cannot be written (a read-only copy or mount, or another user's run), so there is "
      f"nowhere to write {what} by default; the run itself is only read. Pass --out DIR (Python: out_dir=DIR) "
      "for the results. Nothing was changed."
    )
  target = pathlib.Path(out_dir) if out_dir is not None else default
  try:
    target.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise WorkdirError(
      f"the output directory {target} cannot be created ({e.strerror or e}); expected a directory this user can "
      "write, for " + what + ". Nothing was changed."
    ) from e
  if not os.access(target, os.W_OK):
    raise WorkdirError(f"the output directory {target} cannot be written; expected a writable directory for {what}.")
  return target


@contextlib.contextmanager
def locked(workdir: pathlib.Path, purpose: str) -> Iterator[None]:
  """Holds the workdir's lock (workdir_lock.py) inside the block; in a multi-process run process 0
  holds it for all, and every process stops if it could not."""
  lock = workdir_lock.WorkdirLock(workdir, purpose)
  refused: WorkdirError | None = None
  if parallel.is_primary():
    try:
      lock.acquire()
    except WorkdirError as e:
      refused = e
  if jax.process_count() > 1 and preemption.any_process(refused is not None) and refused is None:
    refused = WorkdirError(f"--workdir {workdir} is in use; process 0's message says by whom. Nothing was changed.")
  if refused is not None:
    raise refused
  try:
    yield
  finally:
    lock.release()


def restore_or_init(experiment: Experiment, checkpointer: Checkpointer) -> tuple[TrainState, int]:
  """The latest checkpoint's state (after checking it belongs to this experiment and its contents
  match their digest), else a fresh one. A reader beside a running training takes the newest
  checkpoint still there when the one it was reading is deleted."""
  state = experiment.init_state()
  for attempt in range(_ATTEMPTS):
    latest = checkpointer.latest_step()
    if latest is None:
      return state, 0
    try:
      return _restore(experiment, checkpointer, latest, state), latest
    except CheckpointRemoved:
      if attempt == _ATTEMPTS - 1:
        raise
      checkpointer.reload()
  raise AssertionError("unreachable")


_ATTEMPTS = 5


def _restore(experiment: Experiment, checkpointer: Checkpointer, latest: int, state: TrainState) -> TrainState:
  meta = checkpointer.check_compatible(latest, experiment.identity, renamed=ARCHITECTURES.renamed, target=state)
  optim = experiment.config.optim.to_dict()
  changed = sorted(k for k in optim if meta.get("optim", {}).get(k, optim[k]) != optim[k])
  if changed:
    logging.warning(
      "Resuming step %d with changed optimizer settings: %s.",
      latest,
      ", ".join(f"optim.{k} {meta['optim'][k]!r} -> {optim[k]!r}" for k in changed),
    )
  return checkpointer.restore(latest, state)


def training_meta(experiment: Experiment, step: int, pending: dict | None = None) -> dict:
  """The meta record a checkpoint of `step` carries: where training stood, and the config parts a
  resume checks (identity) or reports (optimizer settings); `pending`: a preempted run's unflushed metrics."""
  epoch, position = experiment.epoch_of(step)
  meta = {"step": step, "epoch": epoch, "position_in_epoch": position, "identity": experiment.identity}
  return {
    **meta,
    "optim": experiment.config.optim.to_dict(),
    **({preemption.PENDING_METRICS: pending} if pending else {}),
  }


def save_checkpoint(experiment: Experiment, state: TrainState, workdir: str | pathlib.Path) -> int:
  """Saves a state stepped by hand (`experiment.train_step` from Python) as a checkpoint of the run
  in `workdir`, exactly as `dvae train` would at that step: `restore_run`, `dvae evaluate`,
  `dvae figures` and a resumed `dvae train` read it. Writes config.json too. Returns the step.

  Holds the workdir's lock while it writes; the checkpoint is complete when this returns.
  """
  workdir = pathlib.Path(workdir)
  prepare_workdir(workdir)
  step = int(jax.device_get(state.step))
  with locked(workdir, "saving a checkpoint"):
    configs.write_config(experiment.config, workdir)
    checkpointer = Checkpointer(workdir / "checkpoints", max_to_keep=experiment.config.train.max_checkpoints)
    try:
      checkpointer.save(step, state, training_meta(experiment, step))
      checkpointer.wait()
    finally:
      checkpointer.close()
  return step


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
    """Codes [N, z] -> the model's output images [N, H, W, C]."""
    z = jnp.asarray(z, jnp.float32)
    latent_dim = self.latent_dim
    if z.ndim != 2 or z.shape[1] != latent_dim:
      raise ValueError(
        f"run.decode expects codes of shape [N, {latent_dim}] (this model's latent has {latent_dim} dimensions); "
        f"got shape {list(z.shape)}. Codes from run.encode(images)[0], or np.zeros((N, {latent_dim})), fit."
      )
    return np.asarray(self._compiled("decode")(self.state, z))

  @property
  def latent_dim(self) -> int:
    """The size of the model's code (of `encode`'s posterior mean)."""
    self._check_methods("encode")
    images = jax.ShapeDtypeStruct((1, *self.experiment.splits.raw_image_shape), jnp.float32)
    return jax.eval_shape(self._compiled("encode"), self.state, images)[0].shape[-1]

  def reconstruct(self, images: np.ndarray, *, key: jax.Array | None = None) -> np.ndarray:
    """One stochastic reconstruction of each image (eval mode), from `key` (default: the run's sample key)."""
    self._check_methods("reconstruct")
    key = self.experiment.keys["sample"] if key is None else key
    recon = self.experiment.reconstruct(self.state, self._host_batch(images), key)[1]
    return np.asarray(self.experiment.hparams.image(recon))

  def sample(self, num: int, *, key: jax.Array | None = None) -> np.ndarray:
    """`num` images decoded from draws of the prior (default key: the run's sample key)."""
    key = self.experiment.keys["sample"] if key is None else key
    hparams = self.experiment.hparams
    return np.asarray(hparams.image(hparams.mean(self._compiled("sample")(self.state, key, num))))

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
    `sample` (state, key, num) -> logits of num prior draws, compiled once per run."""
    if name not in self._jitted:
      model, hparams = self.experiment.model, self.experiment.hparams

      def encode(state, x):
        return model.apply(Experiment.variables(state), x, method="encode")

      def decode(state, z):
        return hparams.image(hparams.mean(model.apply(Experiment.variables(state), z, method="output_logits")))

      def sample(state, key, num):
        variables = Experiment.variables(state)
        z = model.apply(variables, key, num, method="sample_prior")
        return model.apply(variables, z, method="output_logits")

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
  config = config or configs.load_config(workdir)
  experiment = build_experiment(config)
  checkpointer = Checkpointer(workdir / "checkpoints", read_only=True)  # a reader: writes nothing, takes no lock
  try:
    if checkpointer.latest_step() is None:
      raise CheckpointError(f"no checkpoint found in {workdir / 'checkpoints'}; train first with `dvae train`.")
    state, step = restore_or_init(experiment, checkpointer)
  finally:
    checkpointer.close()
  batches = config.eval.recompute_batch_norm if recompute_batch_norm is None else recompute_batch_norm
  if batches:
    state = batch_norm.recompute_batch_norm_statistics(experiment, state, batches)
  return Run(workdir, experiment, state, step, recomputed_batch_norm=batches)
