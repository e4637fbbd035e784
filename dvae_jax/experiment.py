"""An experiment built from a config: data, model, objective, optimizer and the compiled steps.

`build_experiment(config)` validates the config, loads the data and returns an `Experiment`: the
typed model hyperparameters, the Flax module of the chosen family, a pure objective, the learning
rate schedule and optimizer, and the jitted step functions on a device mesh (`train_step`,
`eval_step`, `reconstruct`). The training loop (train.py), evaluation (evaluate.py) and the
figures use it; none of them builds a model on its own.
"""

import dataclasses
import functools
import logging
from collections.abc import Callable
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jax.sharding import Mesh

from dvae_jax import clustering, configs, eval_loop, losses, parallel, two_player
from dvae_jax.checked_step import CheckedStep
from dvae_jax.data import (
  Batch,
  PreprocessSpec,
  Split,
  Splits,
  binarize_statically,
  load_splits,
  preprocess,
  preprocess_spec_from_config,
)
from dvae_jax.models import Family, ModelConfig, get_family, model_config
from dvae_jax.optimizers import Optimizer, make_optimizer

Objective = Callable[..., tuple[jax.Array, tuple[dict[str, jax.Array], Any]]]

# Each random stream has a fixed tag, so adding a stream never changes the draws of another.
KEY_TAGS = {"init": 0, "data": 1, "train": 2, "eval": 3, "sample": 4, "binarize": 5, "likelihood": 6}
RNG_STREAMS = {"params": 0, "reparam": 1, "noise": 2, "dropout": 3}


# data.on_device="auto" keeps the training split on the devices when it takes at most this share of
# the smallest device's memory: the rest is the model's, its activations' and XLA's.
ON_DEVICE_FRACTION = 0.25


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
  """objective(params, model_state, batch, key, *, train, **call) -> (loss, (metrics, new_model_state));
  `call`: keyword arguments of the module's __call__ beyond `train` (e.g. the VAE + D's `discriminator`).

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

  def objective(params, model_state, batch, key, *, train: bool, **call):
    variables = {"params": params, **model_state}
    rngs = module_rngs(key)
    if train:
      outputs, new_state = model.apply(
        variables, batch["image"], train=True, rngs=rngs, mutable=list(model_state), **call
      )
    else:
      outputs, new_state = model.apply(variables, batch["image"], train=False, rngs=rngs, **call), model_state
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
  optimizer: Optimizer  # .transform, .schedule; per player for a two-player family
  keys: dict[str, jax.Array]
  steps_per_epoch: int
  # The training split's step fields (`Split.input_fields`) on every device (data.on_device), which
  # train_step gathers rows of; None: rows are gathered on the host.
  train_on_device: dict[str, jax.Array] | None
  prepare: Callable  # (uint8 batch, step=None) -> {"image": floats in [0, 1], "label"}; traceable
  train_step: CheckedStep  # (state, batches [k, B, ...] or rows data.Batch [k, B]) -> (state, metrics [k])
  # A family with a second player and solo epochs: the VAE-only step of those epochs (train_step_for).
  solo_train_step: CheckedStep | None
  eval_step: CheckedStep  # (state, batch [B, ...] or rows data.Batch [B], key) -> metric sums
  reconstruct: Callable  # (state, batch [B, ...], key) -> (inputs, reconstructions)
  traces: dict[str, int]

  @property
  def identity(self) -> dict[str, Any]:
    return configs.identity(self.config.to_dict())

  @staticmethod
  def variables(state: TrainState) -> dict[str, Any]:
    """The Flax variables of a train state."""
    return {"params": state.params, **state.model_state}

  def train_step_for(self, epoch: int) -> CheckedStep:
    """The step of epoch `epoch` (from 0): `solo_train_step` in a two-player family's solo epochs (the
    VAE alone, none of the discriminator's computation), else `train_step`."""
    if self.solo_train_step is not None and epoch < self.hparams.solo_epochs:
      return self.solo_train_step
    return self.train_step

  def init_state(self) -> TrainState:
    sample = jnp.zeros((1, *self.hparams.image_shape), jnp.float32)

    def init() -> TrainState:
      key = self.keys["init"]
      rngs = {name: jax.random.fold_in(key, tag) for name, tag in RNG_STREAMS.items()}
      variables = self.model.init(rngs, sample, train=False)
      params = variables.pop("params")
      model_state = dict(variables)
      if getattr(self.hparams, "max_disc_loss", None) is not None:
        model_state[two_player.GATE] = two_player.init_gate()
      return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        model_state=model_state,
        opt_state=self.optimizer.transform.init(params),
      )

    return jax.jit(init, out_shardings=parallel.replicated(self.mesh))()

  def epoch_of(self, step: int) -> tuple[int, int]:
    """(epoch, position in the epoch) of a global step."""
    return divmod(step, self.steps_per_epoch)

  def device_batch(self, split: str | Split, index: np.ndarray) -> dict[str, jax.Array]:
    """Examples `index` of a split ("train", "valid", "test" or a Split) as the global arrays the
    compiled steps take: index [k, B] for `train_step` (k steps of B images), [B] for `eval_step`
    (every row counted). E.g. one training step on the first 64 training images:

      state, metrics = experiment.train_step(state, experiment.device_batch("train", np.arange(64)[None]))

    A batch of the wrong form for a step is a ValueError from that step, naming the shape it takes.
    The steps also take the rows themselves, `data.Batch(experiment.splits.train, index)`, which
    `dvae train` passes: train_step gathers them on the device when the training split is kept there
    (`train_on_device`), without building them on the host.
    """
    split = getattr(self.splits, split) if isinstance(split, str) else split
    index = np.asarray(index)
    if index.ndim not in (1, 2):
      raise ValueError(
        f"device_batch takes an index [B] (eval_step: one batch of B examples) or [k, B] (train_step: k steps of B); "
        f"given an index of shape {index.shape}. No batch was built."
      )
    mask = None if index.ndim > 1 else np.ones(index.shape, np.float32)
    return parallel.global_batch(
      Batch(split, index, mask=mask), parallel.batch_sharding(self.mesh, leading_axes=index.ndim - 1)
    )


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
  keys = named_keys(config.seed)
  preprocess_spec = preprocess_spec_from_config(config.data)
  splits = binarize_statically(load_splits(config.data, seed=config.seed), preprocess_spec, keys["binarize"])
  steps_per_epoch = len(splits.train) // config.train.batch_size
  if steps_per_epoch == 0:
    raise configs.ConfigError(
      f"the training split has {len(splits.train)} examples, fewer than one batch of "
      f"config.train.batch_size={config.train.batch_size}."
    )
  hparams = model_config(
    config.model, image_shape=preprocess_spec.image_shape(splits.raw_image_shape), num_classes=splits.num_classes
  )
  family = get_family(hparams.family)
  model = family.module(hparams)
  optimizer = make_optimizer(config.optim, steps_per_epoch, discriminator_params=family.discriminator_params)
  objective = make_objective(family, model, hparams, batch_reduction=config.optim.batch_reduction)
  traces = {"train": 0, "eval": 0}

  def prepare(batch, step=None):
    if "binarized" in batch:  # a static binarization, drawn once per example (binarize_statically)
      return {"image": batch["binarized"].astype(jnp.float32), "label": batch["label"]}
    try:
      ids = batch["id"]  # the example ids key static and evaluation binarization
    except KeyError:
      raise KeyError(
        "prepare(batch) needs the keys 'image', 'label' and 'id' (example ids), or 'binarized' (a split's static "
        "binarization) and 'label'; Experiment.device_batch(split, index) builds such batches."
      ) from None
    image = preprocess(batch["image"], ids, spec=preprocess_spec, key=keys["binarize"], step=step)
    return {"image": image, "label": batch["label"]}

  def epoch_of(state: TrainState) -> jax.Array:
    """Epochs of training so far (float), for families whose loss follows a schedule in epochs."""
    return state.step.astype(jnp.float32) / steps_per_epoch

  def one_step(state: TrainState, batch, *, solo: bool = False) -> tuple[TrainState, dict[str, jax.Array]]:
    inputs = {**prepare(batch, state.step), "epoch": epoch_of(state)}
    step_key = jax.random.fold_in(keys["train"], state.step)
    if family.discriminator_params is not None:
      player_step = two_player.solo_step if solo else two_player.train_step
      params, model_state, opt_state, loss, metrics, grads = player_step(
        objective, optimizer, hparams, state, inputs, step_key, epoch_index=state.step // steps_per_epoch
      )
    else:
      grad_fn = jax.value_and_grad(objective, has_aux=True)
      (loss, (metrics, model_state)), grads = grad_fn(state.params, state.model_state, inputs, step_key, train=True)
      updates, opt_state = optimizer.transform.update(grads, state.opt_state, state.params)
      params = optax.apply_updates(state.params, updates)
    metrics = {name: jnp.mean(value) for name, value in metrics.items()}
    learning_rate = jnp.asarray(optimizer.schedule(state.step))
    metrics.update(loss=loss, grad_norm=optax.tree.norm(grads), learning_rate=learning_rate)
    new_state = TrainState(step=state.step + 1, params=params, model_state=model_state, opt_state=opt_state)
    return new_state, metrics

  def multi_step(state: TrainState, batches, *, solo: bool = False):
    traces["train"] += 1  # runs at trace time only
    step = functools.partial(one_step, solo=solo)
    # Straight-line code only: XLA:CPU compiles a while-loop body apart and gives its convolutions
    # non-canonical layouts and the generic loop emitter (a rolled lax.scan of 5 reference-VAE steps
    # measured 10 img/s against 137 for one step per dispatch). So one step runs as is, and several
    # run as a fully unrolled scan: k copies of the step in one program (220 img/s for k = 5 in the
    # same interleaved run; compilation grows with k). One compilation per chunk length (the last
    # chunk of an epoch may be shorter); XLA fuses across the copies, so results equal k = 1 only
    # up to float32 rounding.
    if batches["label"].shape[0] == 1:
      state, metrics = step(state, jax.tree.map(lambda x: x[0], batches))
      return state, jax.tree.map(lambda m: m[None], metrics)
    return jax.lax.scan(step, state, batches, unroll=True)

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
  train_sharding, eval_sharding = parallel.batch_sharding(mesh, leading_axes=1), parallel.batch_sharding(mesh)
  eval_jitted = jax.jit(eval_step, in_shardings=(replicated, eval_sharding, replicated), out_shardings=replicated)
  train_on_device = None
  if keep_on_device(config.data.on_device, splits.train, mesh):
    train_on_device = parallel.resident_split(splits.train.take(slice(None), splits.train.input_fields), mesh)

  def compiled_train_step(*, solo: bool) -> CheckedStep:
    """The training step (`solo`: a solo epoch's, the VAE alone: two_player.solo_step), for batches
    built on the host and, with the training split on the devices, for rows it gathers itself."""
    steps = functools.partial(multi_step, solo=solo)
    train_jitted = jax.jit(
      steps, in_shardings=(replicated, train_sharding), out_shardings=(replicated, replicated), donate_argnums=0
    )

    # The training split on the devices: a step takes a global index [k, B] sharded like a batch and
    # gathers its rows itself; the same program as `train_jitted` after the gather.
    def steps_on_device(state: TrainState, split, index):
      return steps(state, parallel.gather_rows(split, index, train_sharding))

    on_device_jitted = jax.jit(
      steps_on_device,
      in_shardings=(replicated, replicated, train_sharding),
      out_shardings=(replicated, replicated),
      donate_argnums=0,
    )

    def train_feed(batch: Batch) -> tuple[Callable, tuple]:
      if train_on_device is not None and batch.split is splits.train:
        return on_device_jitted, (train_on_device, parallel.global_index(batch.index, train_sharding))
      return train_jitted, (parallel.global_batch(batch, train_sharding),)

    return CheckedStep(train_jitted, "train_step", axes=2, feed=train_feed)

  def eval_feed(batch: Batch) -> tuple[Callable, tuple]:
    if batch.mask is None:  # every row counted, as device_batch's [B] form
      batch = Batch(batch.split, batch.index, np.ones(batch.index.shape, np.float32))
    return eval_jitted, (parallel.global_batch(batch, eval_sharding),)

  return Experiment(
    config=config,
    mesh=mesh,
    splits=splits,
    preprocess_spec=preprocess_spec,
    hparams=hparams,
    family=family,
    model=model,
    optimizer=optimizer,
    keys=keys,
    steps_per_epoch=steps_per_epoch,
    train_on_device=train_on_device,
    prepare=prepare,
    train_step=compiled_train_step(solo=False),
    solo_train_step=compiled_train_step(solo=True) if getattr(hparams, "solo_epochs", 0) else None,
    eval_step=CheckedStep(eval_jitted, "eval_step", axes=1, feed=eval_feed),
    reconstruct=jax.jit(reconstruct, out_shardings=replicated),
    traces=traces,
  )


def keep_on_device(setting: bool | str, split: Split, mesh: Mesh) -> bool:
  """`data.on_device` resolved for `split`: "auto" keeps it on the devices when it takes at most
  ON_DEVICE_FRACTION of the smallest device's memory, in every process (they must all agree: each
  runs the program of the path it takes)."""
  if setting != "auto":
    return setting
  size, memory = split.input_bytes, parallel.device_memory_bytes(mesh)
  fits = size <= ON_DEVICE_FRACTION * memory
  if jax.process_count() > 1:
    fits = not parallel.any_process(not fits)
  logging.info(
    "data.on_device='auto': the training split (%.1f MB) %s on each device (%.1f GB)",
    size / 1e6,
    "is kept" if fits else "is too large to keep",
    memory / 1e9,
  )
  return fits


def check_divisible(path: str, batch_size: int, num_devices: int) -> None:
  if batch_size % num_devices:
    raise configs.ConfigError(f"config.{path}={batch_size} must be divisible by the {num_devices} devices of the mesh.")


def evaluate_split(
  experiment: Experiment, state: TrainState, split: Split, *, desc: str = "metrics"
) -> dict[str, float]:
  """Means of every metric over `split` (each example counted once; z sampled, BN in eval mode), and for
  a model whose mixture components cluster the images how well they cluster the labels
  (clustering.split_metrics: numbers of the whole split, not means per example).

  An empty split (e.g. data.validation_fraction=0) has no metrics: {}.
  """
  if not len(split):
    return {}
  batches = eval_loop.split_batches(split, experiment.config.train.eval_batch_size, desc)
  sharding = parallel.batch_sharding(experiment.mesh)
  outputs = eval_loop.map_batches(experiment.eval_step, state, batches, sharding, key=experiment.keys["eval"])
  totals = eval_loop.summed([sums for sums, _ in outputs], np.float32)  # as on the device
  count = eval_loop.summed([n for _, n in outputs])
  means = {name: float(value) / float(count) for name, value in totals.items()}
  return {**means, **clustering.split_metrics(experiment, state, split)}
