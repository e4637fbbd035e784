"""The one training loop, for every model family: `train_and_evaluate(config, workdir)`.

A model family plugs in a module and its per-example loss terms (`dvae_jax.models`); this file
turns them into a pure objective, one jitted multi-step train function on a device mesh, an
evaluation function, checkpoints, metrics and figures.
"""

import contextlib
import dataclasses
import json
import logging
import pathlib
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax.sharding import Mesh

from dvae_jax import configs, images, losses, parallel
from dvae_jax.checkpoint import Checkpointer, identity
from dvae_jax.data import (
  PreprocessSpec,
  Split,
  Splits,
  eval_batches,
  load_splits,
  preprocess,
  preprocess_spec_from_config,
  train_batches,
)
from dvae_jax.errors import WorkdirError
from dvae_jax.metric_writer import PARTIAL_WINDOW, MetricWriter
from dvae_jax.models import Family, ModelConfig, get_family, model_config

Objective = Callable[..., tuple[jax.Array, tuple[dict[str, jax.Array], Any]]]

# Each random stream has a fixed tag, so adding a stream never changes the draws of another.
KEY_TAGS = {"init": 0, "data": 1, "train": 2, "eval": 3, "sample": 4, "binarize": 5, "likelihood": 6}
RNG_STREAMS = {"params": 0, "reparam": 1, "noise": 2, "dropout": 3}


class NonFiniteError(FloatingPointError):
  """Training produced a NaN or Inf; the last good checkpoint is kept."""


# `dvae train` exits with this status when SIGTERM or SIGINT stopped training after a checkpoint of
# the step it had reached: EX_TEMPFAIL of sysexits.h, "a temporary failure: retry", which is what
# a job scheduler should do (rerun the same command; it resumes). Not 143 (128 + SIGTERM): a shell
# reports that for a process SIGTERM killed outright, with nothing saved, and a wrapper must be
# able to tell the two apart.
PREEMPTED_EXIT_STATUS = 75


class Preempted(Exception):
  """Training stopped early on request (a signal, or `stop_at_step`), after a durable checkpoint of `step`."""

  def __init__(self, step: int, workdir: pathlib.Path, reason: str):
    self.step, self.workdir, self.reason = step, workdir, reason
    super().__init__(
      f"{reason}: training stopped after step {step}, checkpointed in {workdir / 'checkpoints' / str(step)}; "
      "rerun the same command to resume from it."
    )


class TrainState(flax.struct.PyTreeNode):
  step: jax.Array  # int32 []
  params: Any
  model_state: Any  # {"batch_stats": ...}, or {} for models without batch norm
  opt_state: Any


def named_keys(seed: int) -> dict[str, jax.Array]:
  """One seed, split once into named keys."""
  root = jax.random.key(seed)
  return {name: jax.random.fold_in(root, tag) for name, tag in KEY_TAGS.items()}


def module_rngs(key: jax.Array) -> dict[str, jax.Array]:
  return {name: jax.random.fold_in(key, tag) for name, tag in RNG_STREAMS.items() if name != "params"}


def make_objective(family: Family, model, hparams: ModelConfig, *, batch_reduction: str) -> Objective:
  """objective(params, model_state, batch, key, *, train) -> (loss, (metrics, new_model_state)).

    `loss` is what is optimized: the per-image objective reduced over the batch ("sum", as the
    reference does, or "mean"), plus the L2 penalty of `hparams.l2_scheme`. `metrics` holds
    per-example terms [B] in nats per image and scalars: `l2`, the penalty's share per image (what
  is added to `loss`, divided by B when the batch is summed), so that `objective_nats + l2` is the
  optimized loss per image whatever the batch size; for each
    of the family's generators the reference's "test loss" `reference_loss_<label>` (its
    reconstruction BCE plus its own L2 term, counted once, as the reference computes it) and that L2
    term `reference_l2_<label>`; `reference_loss`, the first (output) generator's.
  """
  include = losses.reference_l2_include

  def l2_penalty(params, batch_size: int) -> jax.Array:
    if hparams.l2_scheme == "single":
      return losses.l2_penalty(params, hparams.weight_decay, include=include)
    # "reference": every image's loss carries each scope's term; reduced like the data term.
    per_image = losses.l2_penalty(
      params, hparams.weight_decay, include=include, multiplicity=lambda path: family.l2_multiplicity(path, hparams)
    )
    return per_image * (batch_size if batch_reduction == "sum" else 1)

  def objective(params, model_state, batch, key, *, train: bool):
    variables = {"params": params, **model_state}
    rngs = module_rngs(key)
    if train:
      outputs, new_state = model.apply(variables, batch["image"], train=True, rngs=rngs, mutable=list(model_state))
    else:
      outputs, new_state = model.apply(variables, batch["image"], train=False, rngs=rngs), model_state
    terms, per_example = family.terms(outputs, batch, hparams)
    batch_size = per_example.shape[0]
    l2 = l2_penalty(params, batch_size)
    reduced = jnp.sum(per_example) if batch_reduction == "sum" else jnp.mean(per_example)
    metrics = {**terms, "objective_nats": per_example, "l2": l2 / batch_size if batch_reduction == "sum" else l2}
    for i, generator in enumerate(family.generators):
      generator_params = params
      for name in generator.path:
        generator_params = generator_params[name]
      generator_l2 = losses.l2_penalty(generator_params, hparams.weight_decay, include=include)
      metrics[f"reference_l2_{generator.label}"] = generator_l2
      metrics[f"reference_loss_{generator.label}"] = terms[generator.recon_term] + generator_l2
      if i == 0:
        metrics["reference_loss"] = metrics[f"reference_loss_{generator.label}"]
    return reduced + l2, (metrics, new_state)

  return objective


def make_schedule(optim: ml_collections.ConfigDict, steps_per_epoch: int) -> optax.Schedule:
  """The learning rate at each step: constant, or decayed x decay_rate every decay_epochs epochs
  (in steps, or smoothly), never below min_learning_rate (`configs.validate` keeps it a floor)."""
  if optim.schedule == "constant":
    return optax.constant_schedule(optim.learning_rate)
  return optax.exponential_decay(
    optim.learning_rate,
    transition_steps=optim.decay_epochs * steps_per_epoch,
    decay_rate=optim.decay_rate,
    staircase=optim.schedule == "staircase",
    end_value=optim.min_learning_rate,  # with decay_rate < 1, optax clips from below
  )


def make_optimizer(
  optim: ml_collections.ConfigDict, steps_per_epoch: int, *, discriminator_params: str | None = None
) -> tuple[optax.GradientTransformation, optax.Schedule]:
  """Adam on the schedule of `make_schedule`, after clipping each gradient entry (if enabled).

  With `discriminator_params` (a family with a second player), that top-level params subtree gets
  its own Adam, on the same schedule from `optim.discriminator_learning_rate` (None: the same
  learning rate), and its own moments: one optax.multi_transform, one optimizer state.
  """

  def chain(schedule: optax.Schedule) -> optax.GradientTransformation:
    adam = optax.adam(schedule, b1=optim.b1, b2=optim.b2, eps=optim.eps)
    return optax.chain(optax.clip(optim.clip_value), adam) if optim.clip_value else adam

  schedule = make_schedule(optim, steps_per_epoch)
  if discriminator_params is None:
    return chain(schedule), schedule
  disc_optim = ml_collections.ConfigDict(optim.to_dict())
  if optim.discriminator_learning_rate is not None:
    disc_optim.learning_rate = optim.discriminator_learning_rate
    disc_optim.min_learning_rate = min(optim.min_learning_rate, optim.discriminator_learning_rate)
  disc_schedule = make_schedule(disc_optim, steps_per_epoch)

  def labels(params):
    return {name: ("discriminator" if name == discriminator_params else "model") for name in params}

  transform = optax.multi_transform({"model": chain(schedule), "discriminator": chain(disc_schedule)}, labels)
  return transform, schedule


@dataclasses.dataclass
class Experiment:
  """Everything built from a config: data, model, objective and the compiled step functions."""

  config: ml_collections.ConfigDict
  mesh: Mesh
  splits: Splits
  preprocess_spec: PreprocessSpec
  hparams: ModelConfig  # the typed config.model, with the data's image shape and classes
  family: Family
  model: Any
  optimizer: optax.GradientTransformation
  schedule: optax.Schedule
  keys: dict[str, jax.Array]
  steps_per_epoch: int
  prepare: Callable  # (uint8 batch, step=None) -> {"image": floats in [0, 1], "label"}; traceable
  train_step: Callable  # (state, batches [k, B, ...]) -> (state, metrics [k])
  eval_step: Callable  # (state, batch [B, ...], key) -> metric sums
  reconstruct: Callable  # (state, batch [B, ...], key) -> (inputs, reconstructions)
  traces: dict[str, int]

  @property
  def identity(self) -> dict[str, Any]:
    return identity(self.config.to_dict())

  @staticmethod
  def variables(state: TrainState) -> dict[str, Any]:
    """The Flax variables of a train state."""
    return {"params": state.params, **state.model_state}

  def init_state(self) -> TrainState:
    sample = jnp.zeros((1, *self.hparams.image_shape), jnp.float32)

    def init() -> TrainState:
      key = self.keys["init"]
      rngs = {name: jax.random.fold_in(key, tag) for name, tag in RNG_STREAMS.items()}
      variables = self.model.init(rngs, sample, train=False)
      params = variables.pop("params")
      return TrainState(
        step=jnp.zeros((), jnp.int32), params=params, model_state=dict(variables), opt_state=self.optimizer.init(params)
      )

    return jax.jit(init, out_shardings=parallel.replicated(self.mesh))()

  def epoch_of(self, step: int) -> tuple[int, int]:
    """(epoch, position in the epoch) of a global step."""
    return divmod(step, self.steps_per_epoch)


def build_experiment(config: ml_collections.ConfigDict) -> Experiment:
  """Validates `config`, loads its data and builds the model and the compiled step functions."""
  configs.validate(config)
  # Random draws must not depend on how arrays are sharded (1 device vs a pod).
  jax.config.update("jax_threefry_partitionable", True)
  if config.num_devices is not None and config.num_devices > len(jax.devices()):
    raise configs.ConfigError(
      f"config.num_devices={config.num_devices} but only {len(jax.devices())} devices are visible: {jax.devices()}."
    )
  mesh = parallel.make_mesh(config.num_devices)
  num_devices = mesh.devices.size
  for name in ("batch_size", "eval_batch_size"):
    check_divisible(f"train.{name}", config.train[name], num_devices)
  splits = load_splits(config.data, seed=config.seed)
  steps_per_epoch = len(splits.train) // config.train.batch_size
  if steps_per_epoch == 0:
    raise configs.ConfigError(
      f"the training split has {len(splits.train)} examples, fewer than one batch of "
      f"config.train.batch_size={config.train.batch_size}."
    )
  preprocess_spec = preprocess_spec_from_config(config.data)
  hparams = model_config(
    config.model, image_shape=preprocess_spec.image_shape(splits.raw_image_shape), num_classes=splits.num_classes
  )
  family = get_family(hparams.family)
  model = family.module(hparams)
  optimizer, schedule = make_optimizer(config.optim, steps_per_epoch, discriminator_params=family.discriminator_params)
  keys = named_keys(config.seed)
  objective = make_objective(family, model, hparams, batch_reduction=config.optim.batch_reduction)
  traces = {"train": 0, "eval": 0}

  def prepare(batch, step=None):
    image = preprocess(batch["image"], batch["id"], spec=preprocess_spec, key=keys["binarize"], step=step)
    return {"image": image, "label": batch["label"]}

  def epoch_of(state: TrainState) -> jax.Array:
    """Epochs of training so far (float), for families whose loss follows a schedule in epochs."""
    return state.step.astype(jnp.float32) / steps_per_epoch

  def one_step(state: TrainState, batch) -> tuple[TrainState, dict[str, jax.Array]]:
    inputs = {**prepare(batch, state.step), "epoch": epoch_of(state)}
    step_key = jax.random.fold_in(keys["train"], state.step)
    grad_fn = jax.value_and_grad(objective, has_aux=True)
    (loss, (metrics, model_state)), grads = grad_fn(state.params, state.model_state, inputs, step_key, train=True)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    metrics = {name: jnp.mean(value) for name, value in metrics.items()}
    metrics.update(loss=loss, grad_norm=optax.tree.norm(grads), learning_rate=jnp.asarray(schedule(state.step)))
    new_state = TrainState(
      step=state.step + 1,
      params=optax.apply_updates(state.params, updates),
      model_state=model_state,
      opt_state=opt_state,
    )
    return new_state, metrics

  def multi_step(state: TrainState, batches):
    traces["train"] += 1  # runs at trace time only
    # Straight-line code only: XLA:CPU compiles a while-loop body apart and gives its convolutions
    # non-canonical layouts and the generic loop emitter (a rolled lax.scan of 5 reference-VAE steps
    # measured 10 img/s against 137 for one step per dispatch). So one step runs as is, and several
    # run as a fully unrolled scan: k copies of the step in one program (220 img/s for k = 5 in the
    # same interleaved run; compilation grows with k). One compilation per chunk length (the last
    # chunk of an epoch may be shorter); XLA fuses across the copies, so results equal k = 1 only
    # up to float32 rounding.
    if batches["label"].shape[0] == 1:
      state, metrics = one_step(state, jax.tree.map(lambda x: x[0], batches))
      return state, jax.tree.map(lambda m: m[None], metrics)
    return jax.lax.scan(one_step, state, batches, unroll=True)

  def eval_step(state: TrainState, batch, key):
    traces["eval"] += 1
    inputs = {**prepare(batch), "epoch": epoch_of(state)}
    _, (metrics, _) = objective(state.params, state.model_state, inputs, key, train=False)
    mask = batch["mask"]
    sums = {name: (jnp.sum(value * mask) if value.ndim else value * jnp.sum(mask)) for name, value in metrics.items()}
    return sums, jnp.sum(mask)

  def reconstruct(state: TrainState, batch, key):
    inputs = prepare(batch)
    recon = model.apply(Experiment.variables(state), inputs["image"], rngs=module_rngs(key), method="reconstruct")
    return inputs["image"], recon

  replicated = parallel.replicated(mesh)
  return Experiment(
    config=config,
    mesh=mesh,
    splits=splits,
    preprocess_spec=preprocess_spec,
    hparams=hparams,
    family=family,
    model=model,
    optimizer=optimizer,
    schedule=schedule,
    keys=keys,
    steps_per_epoch=steps_per_epoch,
    prepare=prepare,
    train_step=jax.jit(
      multi_step,
      in_shardings=(replicated, parallel.batch_sharding(mesh, leading_axes=1)),
      out_shardings=(replicated, replicated),
      donate_argnums=0,
    ),
    eval_step=jax.jit(
      eval_step, in_shardings=(replicated, parallel.batch_sharding(mesh), replicated), out_shardings=replicated
    ),
    reconstruct=jax.jit(reconstruct, out_shardings=replicated),
    traces=traces,
  )


def check_divisible(path: str, batch_size: int, num_devices: int) -> None:
  if batch_size % num_devices:
    raise configs.ConfigError(f"config.{path}={batch_size} must be divisible by the {num_devices} devices of the mesh.")


def evaluate(experiment: Experiment, state: TrainState, split: Split) -> dict[str, float]:
  """Means of every metric over `split` (each example counted once; z sampled, BN in eval mode).

  An empty split (e.g. data.validation_fraction=0) has no metrics: {}.
  """
  if not len(split):
    return {}
  batch_size = experiment.config.train.eval_batch_size
  sharding = parallel.batch_sharding(experiment.mesh)
  totals, count = None, 0.0
  for index, batch in enumerate(eval_batches(split, batch_size)):
    key = jax.random.fold_in(experiment.keys["eval"], index)
    sums, n = experiment.eval_step(state, parallel.global_batch(batch, sharding), key)
    totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
    count += float(n)
  return {name: float(value) / count for name, value in jax.device_get(totals).items()}


RECOMPUTE_MOMENTUM = 0.9


def recompute_batch_norm_statistics(experiment: Experiment, state: TrainState, num_batches: int) -> TrainState:
  """`state` with batch norm's running statistics recomputed with the final parameters: the running
  averages continued over the first `num_batches` training batches (train-mode forward passes, no
  parameter update) at momentum RECOMPUTE_MOMENTUM, so that what remains of the old statistics is
  0.9^num_batches (under 1% for 50 batches).

  Why: the running averages of a short run lag behind weights that are still moving (under the
  reference's L2 they shrink throughout), and eval-mode metrics inherit the lag; measured on the
  reference classifier after one epoch on 27,000 images (batch-norm momentum 0.9), test error 21.9%
  with its running averages and 2.35% after recomputing on 50 batches (in train mode, normalizing
  each test batch by its own statistics: 3.4% on the first 2,048 test images). A
  module applied twice per step (the DVAE's shared encoder, on real and on generated images) gets
  both inputs' statistics, mixed as in training. Parameters are unchanged; a model without batch
  norm, or whose network has no `bn_momentum`, is returned as is.
  """
  hparams = experiment.hparams
  if "batch_stats" not in state.model_state or not hasattr(hparams.network, "bn_momentum"):
    return state
  network = dataclasses.replace(hparams.network, bn_momentum=RECOMPUTE_MOMENTUM)
  model = experiment.family.module(dataclasses.replace(hparams, network=network))

  @jax.jit
  def updated_statistics(state: TrainState, batch) -> dict[str, Any]:
    inputs = experiment.prepare(batch)
    rngs = module_rngs(experiment.keys["eval"])
    variables = Experiment.variables(state)
    _, updates = model.apply(variables, inputs["image"], train=True, rngs=rngs, mutable=list(state.model_state))
    return {**state.model_state, **updates}

  sharding = parallel.batch_sharding(experiment.mesh)
  count = 0
  for batch in eval_batches(experiment.splits.train, experiment.config.train.batch_size):
    if count == num_batches or not batch.mask.all():  # full batches only: padding would bias them
      break
    state = state.replace(model_state=updated_statistics(state, parallel.global_batch(batch, sharding)))
    count += 1
  if count == 0:
    raise ValueError(f"no full training batch of {experiment.config.train.batch_size} to recompute batch norm with.")
  return state


def reconstructions(experiment: Experiment, state: TrainState, split: Split, num: int) -> tuple[np.ndarray, np.ndarray]:
  """(inputs, one stochastic reconstruction each) for the first `num` images of `split`."""
  inputs, recon = experiment.reconstruct(state, split.take(np.arange(num)), experiment.keys["sample"])
  return np.asarray(inputs), np.asarray(recon)


def save_reconstructions(
  experiment: Experiment, state: TrainState, split: Split, path: pathlib.Path
) -> pathlib.Path | None:
  """A grid of inputs and their reconstructions (none when config.train.grid_images is 0)."""
  n = min(experiment.config.train.grid_images, len(split))
  if not n:
    return None
  inputs, recon = reconstructions(experiment, state, split, n)
  if not parallel.is_primary():
    return None
  return images.save_reconstruction_grid(path, inputs, recon)


def _check_finite(history: list[tuple[int, dict[str, np.ndarray]]], checkpointer: Checkpointer, workdir) -> None:
  """Raises NonFiniteError naming the first step with a NaN/Inf metric, and which metrics."""
  for first_step, metrics in history:
    bad = {name: np.flatnonzero(~np.isfinite(values)) for name, values in metrics.items()}
    bad = {name: index[0] for name, index in bad.items() if index.size}
    if not bad:
      continue
    offset = min(bad.values())
    names = sorted((n for n, i in bad.items() if i == offset), key=lambda n: (n != "loss", n))
    values = ", ".join(f"{n}={metrics[n][offset]}" for n in names)
    checkpointer.wait()
    last = checkpointer.latest_step()
    kept = (
      f"the last good checkpoint (step {last}) in {workdir} is kept, and a rerun resumes from it"
      if last is not None
      else "no checkpoint had been written yet"
    )
    raise NonFiniteError(
      f"Training stopped: metric {names[0]!r} is not finite at step {first_step + offset + 1} "
      f"({values}; every step before it was finite); {kept}. "
      "Consider a lower optim.learning_rate, gradient clipping (optim.clip_value) or a config error."
    )


def _mean_history(history: list[tuple[int, dict[str, np.ndarray]]]) -> dict[str, float]:
  names = history[0][1]
  return {name: float(np.mean(np.concatenate([m[name] for _, m in history]))) for name in names}


def restore_or_init(experiment: Experiment, checkpointer: Checkpointer) -> tuple[TrainState, int]:
  """The latest checkpoint's state (after checking it belongs to this experiment), else a fresh one."""
  state = experiment.init_state()
  latest = checkpointer.latest_step()
  if latest is None:
    return state, 0
  meta = checkpointer.check_compatible(latest, experiment.identity)
  optim = experiment.config.optim.to_dict()
  changed = sorted(k for k in optim if meta.get("optim", {}).get(k, optim[k]) != optim[k])
  if changed:
    logging.warning(
      "Resuming step %d with changed optimizer settings: %s.",
      latest,
      ", ".join(f"optim.{k} {meta['optim'][k]!r} -> {optim[k]!r}" for k in changed),
    )
  return checkpointer.restore(latest, state), latest


def write_config(config: ml_collections.ConfigDict, workdir: pathlib.Path) -> None:
  """workdir/config.json, which `load_config` reads back (process 0 of a multi-process run writes it)."""
  if parallel.is_primary():
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2, sort_keys=True) + "\n")


def load_config(workdir: str | pathlib.Path) -> ml_collections.ConfigDict:
  path = pathlib.Path(workdir) / "config.json"
  if not path.exists():
    raise FileNotFoundError(f"{path} not found: is {workdir} a workdir written by `dvae train`?")
  try:
    saved = json.loads(path.read_text())
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise WorkdirError(f"{path} is not valid JSON ({e}); expected the config `dvae train` wrote there.") from e
  if not isinstance(saved, dict):
    raise WorkdirError(f"{path} holds a {type(saved).__name__}; expected the config object `dvae train` wrote there.")
  model = saved.get("model", {})
  if not isinstance(model.get("network"), dict):
    raise configs.ConfigError(
      f"{path} was written by an older dvae-jax whose config.model had no 'network' section; "
      "retrain with this version, or evaluate with the version that trained it."
    )
  config = configs.base_config(model.get("family", "vae"), model["network"].get("name"))
  config.unlock()
  # A registry choice saved with another name than the default (e.g. model.discriminator.name) has
  # its own keys: the saved section replaces the default's instead of being merged into it.
  for key, value in model.items():
    default = config.model.get(key)
    if isinstance(value, dict) and "name" in value and isinstance(default, ml_collections.ConfigDict):
      if default.get("name") != value["name"]:
        del config.model[key]
  config.update(saved)
  config.lock()
  return config


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | pathlib.Path) -> dict[str, float]:
  """Trains (resuming from the latest checkpoint in `workdir`), validating every epoch.

  Returns the last validation metrics.
  """
  return run_training(build_experiment(config), workdir)


def run_training(
  experiment: Experiment, workdir: str | pathlib.Path, *, stop_at_step: int | None = None
) -> dict[str, float]:
  """`train_and_evaluate` for an already built experiment (tests inspect its trace counts).

  SIGTERM or SIGINT during training (how pods preempt jobs, and Ctrl-C) stops it after the current
  step with a checkpoint of that step, then raises `Preempted`; `stop_at_step` does the same once
  training reaches that step (`dvae check-repro` interrupts runs this way). Rerunning resumes, and
  the resumed run's state and metrics equal an uninterrupted run's bit for bit.
  """
  workdir = pathlib.Path(workdir)
  prepare_workdir(workdir)
  checkpointer = Checkpointer(workdir / "checkpoints", max_to_keep=experiment.config.train.max_checkpoints)
  try:
    state, start_step = restore_or_init(experiment, checkpointer)
    write_config(experiment.config, workdir)
    if start_step:
      logging.info("Resuming from the checkpoint at step %d in %s", start_step, workdir)
    _warn_if_batch_norm_statistics_stay_biased(experiment)
    writer = MetricWriter(workdir, resume_step=start_step, active=parallel.is_primary())
    pending = checkpointer.read_meta(start_step).get(PENDING_METRICS) if start_step else None
    try:
      return _train_loop(experiment, state, start_step, checkpointer, writer, workdir, stop_at_step, pending)
    finally:
      writer.close()
  finally:
    checkpointer.wait()
    checkpointer.close()


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


def _warn_if_batch_norm_statistics_stay_biased(experiment: Experiment) -> None:
  """Evaluation uses batch norm's running averages, which start at (0, 1) and forget that start
  only as momentum**updates: with the reference's 0.999, 843 steps (one MNIST epoch) still leave
  43% of it, and eval-mode metrics are then meaningless. Say so before training starts."""
  momentum = experiment.hparams.network.batch_norm_momentum
  steps = experiment.config.train.num_epochs * experiment.steps_per_epoch
  if momentum is not None and steps and momentum**steps > 0.05:
    logging.warning(
      "After the %d steps of this run, batch norm's running statistics (momentum %g) will still hold %.0f%% of "
      "their initial values, so validation and test metrics (eval mode) will not reflect the trained model. "
      "Train longer or lower model.network.bn_momentum (e.g. --config.model.network.bn_momentum=%g).",
      steps,
      momentum,
      100 * momentum**steps,
      _momentum_for(steps),
    )


def _momentum_for(steps: int) -> float:
  """A momentum whose running averages keep under 1% of their start after `steps` updates."""
  return float(np.floor(0.01 ** (1 / steps) * 1000) / 1000)


def _train_loop(
  experiment: Experiment,
  state: TrainState,
  step: int,
  checkpointer: Checkpointer,
  writer: MetricWriter,
  workdir: pathlib.Path,
  stop_at_step: int | None = None,
  pending: dict[str, Any] | None = None,
) -> dict[str, float]:
  cfg = experiment.config.train
  total_steps = cfg.num_epochs * experiment.steps_per_epoch
  sharding = parallel.batch_sharding(experiment.mesh, leading_axes=1)
  profiler = _StepProfiler(workdir / "profile", cfg.profile_start_step, cfg.profile_steps)
  progress = _progress_bar(cfg.progress_bar, total=total_steps, initial=step)
  # (first step, metrics [k]) since the last flush; a preempted run left its unflushed steps in the checkpoint.
  history: list[tuple[int, Any]] = _pending_history(pending)
  valid: dict[str, float] = {}
  # Training throughput counts training time only: validation and checkpoint writes are timed
  # apart (after the training work dispatched before them has finished) and left out.
  train_seconds, window_start = (pending or {}).get("train_seconds", 0.0), time.perf_counter()
  other_seconds = {"valid_seconds": 0.0, "checkpoint_seconds": 0.0, "compile_seconds": 0.0}

  def flush(step: int, *, partial: bool = False) -> None:
    """Writes the mean metrics of the steps since the last flush. A `partial` window (cut short by
    a preemption) is marked so, and the resumed run rewrites it whole: see MetricWriter."""
    nonlocal history, train_seconds, window_start, other_seconds
    if not history:
      return
    host = [(first, jax.device_get(m)) for first, m in history]
    progress.update(step - history[-1][0])  # the last dispatch, now finished
    _check_finite(host, checkpointer, workdir)
    means = _mean_history(host)
    train_seconds += time.perf_counter() - window_start
    images_per_second = (step - host[0][0]) * cfg.batch_size / max(train_seconds, 1e-9)
    marker = {PARTIAL_WINDOW: 1.0} if partial else {}
    writer.write(step, "train", {**means, "images_per_second": images_per_second, **other_seconds, **marker})
    progress.set_postfix(loss=f"{means['objective_nats']:.2f}", img_s=f"{images_per_second:.0f}")
    history, train_seconds, window_start = [], 0.0, time.perf_counter()
    other_seconds = dict.fromkeys(other_seconds, 0.0)

  def timed(name: str, fn: Callable[..., Any], *args) -> Any:
    """Runs fn(*args) outside the training clock, adding its wall time to other_seconds[name]."""
    nonlocal train_seconds, window_start
    jax.block_until_ready(state)  # the steps already dispatched are training time
    start = time.perf_counter()
    train_seconds += start - window_start
    result = fn(*args)
    window_start = time.perf_counter()
    other_seconds[name] += window_start - start
    return result

  def save(step: int, pending: dict[str, Any] | None = None) -> None:
    epoch, position = experiment.epoch_of(step)
    meta = {"step": step, "epoch": epoch, "position_in_epoch": position, "identity": experiment.identity}
    meta = {**meta, "optim": experiment.config.optim.to_dict(), **({PENDING_METRICS: pending} if pending else {})}
    checkpointer.save(step, state, meta)

  def stop(step: int, reason: str, *, saved: bool) -> Preempted:
    """Checkpoints `step` (unless `saved`) with its unflushed metrics, waits until it is durable."""
    if not saved:
      jax.block_until_ready(state)
      pending = {
        "history": _history_to_json(history),
        "train_seconds": train_seconds + time.perf_counter() - window_start,
      }
      flush(step, partial=True)  # also checks finiteness: a NaN state is never saved
      timed("checkpoint_seconds", save, step, pending)
    checkpointer.wait()
    progress.close()
    return Preempted(step, workdir, reason)

  resumed_at, stop_request = step, _StopRequest(stop_at_step)
  epoch_start = time.perf_counter()  # wall time per epoch: training, validation and checkpoints
  # closing: an error leaves the bar finished with a newline, so that its message starts a line of its own.
  with stop_request.signals(), contextlib.closing(progress):
    while step < total_steps:
      epoch, position = experiment.epoch_of(step)
      for first, batch in train_batches(
        experiment.splits.train,
        key=experiment.keys["data"],
        epoch=epoch,
        batch_size=cfg.batch_size,
        start_step=position,
        steps_per_dispatch=cfg.steps_per_dispatch,
      ):
        profiler.before(step)
        traced, call_start = experiment.traces["train"], time.perf_counter()
        state, metrics = experiment.train_step(state, parallel.global_batch(batch, sharding))
        if experiment.traces["train"] != traced:  # this call traced and compiled before dispatching
          compile_seconds = time.perf_counter() - call_start
          window_start += compile_seconds
          other_seconds["compile_seconds"] += compile_seconds
        previous, step = step, step + len(batch)
        profiler.after(step, state)
        history.append((previous, metrics))
        # Dispatch is asynchronous: the bar (and its ETA) advances when the previous dispatch has
        # finished, not when this one was queued, so it neither runs ahead nor stalls at log steps.
        # One dispatch stays queued behind the running one, so the device never waits for the host.
        if len(history) > 1 and history[-2][0] >= resumed_at:  # not a step the preempted run took
          jax.block_until_ready(history[-2][1])
          progress.update(previous - history[-2][0])
        at_epoch_end = first + len(batch) == experiment.steps_per_epoch
        checkpoint_due = _crossed(previous, step, cfg.checkpoint_every_steps) or at_epoch_end
        if checkpoint_due:
          # orbax writes in the background; the previous checkpoint is made complete before this
          # step's metrics are written (its save would wait for it anyway), so a kill at any
          # instant loses at most one checkpoint interval of logged steps (scripts/fault_loop.py).
          timed("checkpoint_seconds", checkpointer.wait)
        if checkpoint_due or _crossed(previous, step, cfg.log_every_steps):
          flush(step)  # checks finiteness before anything is saved
        if at_epoch_end and len(experiment.splits.valid):
          valid = timed("valid_seconds", evaluate, experiment, state, experiment.splits.valid)
          valid_history = [(step - 1, {f"valid/{k}": np.array([v]) for k, v in valid.items()})]
          _check_finite(valid_history, checkpointer, workdir)
          epoch_seconds, epoch_start = time.perf_counter() - epoch_start, time.perf_counter()
          writer.write(step, "valid", {**valid, "epoch": epoch + 1, "epoch_seconds": epoch_seconds})
        if checkpoint_due:
          timed("checkpoint_seconds", save, step)
        reason = stop_request.reason(previous, step)
        if reason:
          raise stop(step, reason, saved=checkpoint_due)
    checkpointer.wait()  # a signal that comes now stops nothing, but must not cut the last save short
    reason = stop_request.reason(step, step, final=True)
    if reason:
      raise stop(step, reason, saved=True)
  progress.close()
  profiler.after(None, state)
  if not valid and experiment.config.train.num_epochs:
    valid = evaluate(experiment, state, experiment.splits.valid)
  if experiment.family.generative:
    save_reconstructions(experiment, state, experiment.splits.valid, workdir / "reconstructions.png")
  return valid


# The checkpoint meta entry holding a preempted run's metrics since its last flush, so that the
# resumed run writes the same records as an uninterrupted one.
PENDING_METRICS = "pending_train_metrics"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# In a multi-process run the processes agree on a stop every this many steps: the agreement is an
# all-gather, which synchronizes the hosts, so it is not done at every dispatch.
STOP_POLL_STEPS = 10


class _StopRequest:
  """Whether training should stop after the step it has reached: a signal came, or `stop_at_step` is reached.

  Every process of a multi-process run must stop after the same step (the checkpoint is a collective
  write): a signal to any process stops all of them, at the next multiple of STOP_POLL_STEPS.
  """

  def __init__(self, stop_at_step: int | None):
    self.stop_at_step = stop_at_step
    self.received: str | None = None

  @contextlib.contextmanager
  def signals(self):
    """While inside, SIGTERM and SIGINT ask for a stop instead of killing the process; the previous
    handlers come back on exit, so tests and library users keep theirs."""
    if threading.current_thread() is not threading.main_thread():
      logging.info("Training runs outside the main thread, where Python cannot handle signals: no preemption handling.")
      yield
      return
    previous = {signum: signal.signal(signum, self._handle) for signum in STOP_SIGNALS}
    try:
      yield
    finally:
      for signum, handler in previous.items():
        # None: a handler installed outside Python, which Python cannot put back; the default stands in.
        signal.signal(signum, signal.SIG_DFL if handler is None else handler)

  def _handle(self, signum: int, frame) -> None:
    name = signal.Signals(signum).name
    if self.received is None:
      self.received = name
      logging.warning("%s received: training stops after the current step, with a checkpoint of it.", name)
    else:
      # Interrupting the save could leave no checkpoint of the step the run stops at (orbax writes a
      # temporary directory and renames it when complete, so never a corrupt one).
      logging.warning("%s received again: ignored until the checkpoint being written is complete.", name)

  def reason(self, previous: int, step: int, *, final: bool = False) -> str | None:
    """Why to stop after the dispatch of steps (previous, step], or None to go on. `final`: after the last step."""
    if self.stop_at_step is not None and step >= self.stop_at_step:
      return f"stop_at_step={self.stop_at_step} reached"
    received = self.received is not None
    if jax.process_count() > 1:
      if not (final or _crossed(previous, step, STOP_POLL_STEPS)):
        return None
      received = _any_process(received)  # every process calls it at the same steps
    return f"{self.received or 'a signal to another process'} received" if received else None


def _any_process(flag: bool) -> bool:
  from jax.experimental import multihost_utils

  return bool(np.any(multihost_utils.process_allgather(np.asarray(flag, np.int32))))


def _history_to_json(history: list[tuple[int, Any]]) -> list[dict[str, Any]]:
  """Per-step metrics as JSON; float32 values survive the round trip through Python floats exactly."""
  return [
    {
      "first_step": first,
      "metrics": {name: {"dtype": str(value.dtype), "values": value.tolist()} for name, value in host.items()},
    }
    for first, host in ((first, jax.device_get(metrics)) for first, metrics in history)
  ]


def _pending_history(pending: dict[str, Any] | None) -> list[tuple[int, dict[str, np.ndarray]]]:
  return [
    (entry["first_step"], {name: np.asarray(m["values"], m["dtype"]) for name, m in entry["metrics"].items()})
    for entry in (pending or {}).get("history", [])
  ]


class _StepProfiler:
  """Traces steps [start, start + count) with jax.profiler (count 0: never)."""

  def __init__(self, directory: pathlib.Path, start: int, count: int):
    self.directory, self.start, self.stop, self.active = directory, start, start + count, False
    self.enabled = count > 0 and parallel.is_primary()

  def before(self, step: int) -> None:
    if self.enabled and not self.active and self.start <= step < self.stop:
      jax.profiler.start_trace(str(self.directory), create_perfetto_trace=True)
      self.active = True

  def after(self, step: int | None, state) -> None:
    """After a dispatch reaching `step` (None: training ended): stops the trace once past its range."""
    if self.active and (step is None or step >= self.stop):
      jax.block_until_ready(state)  # the traced steps must finish inside the trace
      jax.profiler.stop_trace()
      self.active, self.enabled = False, False
      logging.info("Profiler trace of steps %d-%d written to %s", self.start, self.stop - 1, self.directory)


def _crossed(previous: int, step: int, every: int) -> bool:
  """Whether a multiple of `every` lies in (previous, step]."""
  return step // every > previous // every


def _progress_bar(enabled: bool, *, total: int, initial: int):
  from tqdm.auto import tqdm

  return tqdm(total=total, initial=initial, unit="step", disable=not enabled, dynamic_ncols=True)
