"""The training step of a family with a second player (the VAE with a learnable loss: the model and a
discriminator), inside the one jitted step of `experiment.build_experiment`.

The family's objective is the sum of both players' losses, each loss reaching only its own
player's parameters (models/vae_gan.py), so one gradient of it holds both players' gradients.
`update_order` (the family config's) says how the players step:

  "simultaneous"  one reconstruction, one gradient, both players' Adam steps at once.
  "alternating"   the order of xuganyu96/VAE-GAN-learnable-loss: first the discriminator steps, on a
                  fresh reconstruction (key 0 of the step); then the VAE steps against the UPDATED
                  discriminator, on another fresh reconstruction (key 1).
                  Metrics: the discriminator's (`disc_*`) from its own step, on the batch it trained
                  on before its update (what the original logs); all others from the VAE's step.

Solo epochs (`solo_epochs`, the VAE alone) take `solo_step`, chosen on the host per epoch
(Experiment.train_step_for): the VAE's step of `train_step`, the same key and the same numbers, but
without the discriminator: it is not applied (so its batch-norm statistics do not move), its step
is not computed, and its optimizer state is not touched (its Adam step count does not run on), as
in the original, which trains the VAE alone. `train_step` in a solo epoch gives the VAE the same
update, and leaves the discriminator's parameters and Adam state as they were (alternating) or gives
it a zero gradient (simultaneous), but it pays for the discriminator's passes, which update its
batch-norm statistics.

Batch-norm statistics are updated by every forward pass in training mode, in the order of the
passes. The objective applies the VAE once and the discriminator three times (on the reconstruction
for the adversarial term, on x, on the stopped reconstruction), and an alternating step evaluates it
twice: the VAE's statistics update twice per combo step and the discriminator's six times (the
original: three and three); a solo step updates the VAE's once and the discriminator's never (the
original's too).

The gate (`max_disc_loss`, the original's option): the adversarial term of the VAE's loss is
dropped for a whole epoch after a combo epoch whose mean discriminator loss (per image, the mean
over the epoch's steps of the loss the discriminator trained on) exceeded `max_disc_loss`. Its
state lives in the train state's model_state under GATE (only when the option is set), so it is
checkpointed and a resumed run gates exactly as an uninterrupted one.
"""

from typing import Any

import jax
import jax.numpy as jnp
import optax

from dvae_jax.optimizers import Optimizer

GATE = "adversarial_gate"


def init_gate() -> dict[str, jax.Array]:
  """The gate before training: open, no discriminator loss recorded yet."""
  return {
    "epoch": jnp.zeros((), jnp.int32),  # the epoch whose losses are being summed
    "disc_loss_sum": jnp.zeros((), jnp.float32),
    "steps": jnp.zeros((), jnp.float32),  # combo steps summed
    "open": jnp.ones((), jnp.float32),  # 1: the adversarial term is used in this epoch
  }


def roll_gate(gate: dict[str, jax.Array], epoch: jax.Array, max_disc_loss: float) -> dict[str, jax.Array]:
  """At the first step of a new epoch: open the gate iff the last epoch's mean loss was <= the limit
  (an epoch without combo steps leaves it as it was), and start summing afresh."""
  new_epoch = epoch != gate["epoch"]
  mean = gate["disc_loss_sum"] / jnp.maximum(gate["steps"], 1.0)
  decided = jnp.where(mean <= max_disc_loss, 1.0, 0.0).astype(jnp.float32)
  return {
    "epoch": epoch.astype(jnp.int32),
    "disc_loss_sum": jnp.where(new_epoch, 0.0, gate["disc_loss_sum"]),
    "steps": jnp.where(new_epoch, 0.0, gate["steps"]),
    "open": jnp.where(new_epoch & (gate["steps"] > 0), decided, gate["open"]),
  }


def record_gate(gate: dict[str, jax.Array], disc_loss: jax.Array, combo: jax.Array) -> dict[str, jax.Array]:
  """Adds a combo step's mean discriminator loss to the epoch's sum."""
  return {
    **gate,
    "disc_loss_sum": gate["disc_loss_sum"] + jnp.where(combo, disc_loss, 0.0),
    "steps": gate["steps"] + combo.astype(jnp.float32),
  }


def _player_step(objective, optimizer: Optimizer, player: str, params, model_state, opt_state, inputs, key):
  """The gradient of the objective with respect to `player`'s parameters, and that player's step."""
  names = [name for name, label in optimizer.labels(params).items() if label == player]

  def loss_of(own):
    return objective({**params, **own}, model_state, inputs, key, train=True)

  (loss, (metrics, new_model_state)), own_grads = jax.value_and_grad(loss_of, has_aux=True)(
    {name: params[name] for name in names}
  )
  grads = {
    name: own_grads[name] if name in own_grads else jax.tree.map(jnp.zeros_like, value)
    for name, value in params.items()
  }
  new_params, new_opt_state = optimizer.update_player(player, grads, opt_state, params)
  return new_params, new_model_state, new_opt_state, loss, metrics, own_grads


def _select(condition: jax.Array, new: Any, old: Any) -> Any:
  return jax.tree.map(lambda a, b: jnp.where(condition, a, b), new, old)


def train_step(
  objective, optimizer: Optimizer, hparams, state, inputs: dict[str, jax.Array], key: jax.Array, *, epoch_index
):
  """One step of both players: (params, model_state, opt_state, loss, per-example metrics, gradients)
  of the new state; `epoch_index` the step's epoch (an int32 array), for the gate."""
  model_state = dict(state.model_state)
  gate = model_state.pop(GATE, None)
  combo = inputs["epoch"] >= hparams.solo_epochs
  if gate is not None:
    gate = roll_gate(gate, epoch_index, hparams.max_disc_loss)
    inputs = {**inputs, "adversarial": gate["open"]}

  if hparams.update_order == "simultaneous":
    grad_fn = jax.value_and_grad(objective, has_aux=True)
    (loss, (metrics, model_state)), grads = grad_fn(state.params, model_state, inputs, key, train=True)
    updates, opt_state = optimizer.transform.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    disc_metrics = metrics
  else:
    disc_key, model_key = jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)
    stepped = _player_step(
      objective, optimizer, "discriminator", state.params, model_state, state.opt_state, inputs, disc_key
    )
    params, model_state, opt_state = _select(combo, stepped[:3], (state.params, model_state, state.opt_state))
    disc_metrics, disc_grads = stepped[4], stepped[5]
    params, model_state, opt_state, loss, metrics, model_grads = _player_step(
      objective, optimizer, "model", params, model_state, opt_state, inputs, model_key
    )
    metrics = {name: disc_metrics[name] if name.startswith("disc_") else value for name, value in metrics.items()}
    grads = {**model_grads, **disc_grads}

  if gate is not None:
    gate = record_gate(gate, jnp.mean(disc_metrics["disc_loss"]), combo)
    model_state = {**model_state, GATE: gate}
  return params, model_state, opt_state, loss, metrics, grads


def solo_step(
  objective, optimizer: Optimizer, hparams, state, inputs: dict[str, jax.Array], key: jax.Array, *, epoch_index
):
  """A solo epoch's step, the VAE alone: `train_step`'s outputs (params, model_state, opt_state,
  loss, per-example metrics, gradients), with the VAE's part exactly as `train_step` computes it in
  a solo epoch (the same key: fold_in(key, 1) for "alternating", `key` for "simultaneous"), the
  discriminator not applied and nothing of it changed. Metrics and gradients are the VAE's alone."""
  model_state = dict(state.model_state)
  gate = model_state.pop(GATE, None)
  if gate is not None:  # rolled as train_step rolls it; a solo step adds no discriminator loss to it
    gate = roll_gate(gate, epoch_index, hparams.max_disc_loss)
    inputs = {**inputs, "adversarial": gate["open"]}
  model_key = key if hparams.update_order == "simultaneous" else jax.random.fold_in(key, 1)

  def vae_only(params, model_state, inputs, key, *, train):
    return objective(params, model_state, inputs, key, train=train, discriminator=False)

  params, model_state, opt_state, loss, metrics, grads = _player_step(
    vae_only, optimizer, "model", state.params, model_state, state.opt_state, inputs, model_key
  )
  if gate is not None:
    model_state = {**model_state, GATE: gate}
  return params, model_state, opt_state, loss, metrics, grads
