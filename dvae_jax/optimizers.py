"""The optimizers: Adam on a learning-rate schedule; for a family with a second player (a
discriminator), one Adam per player, updatable together or one player at a time.

  make_schedule(optim, steps_per_epoch)   the learning rate at each step
  make_optimizer(optim, steps_per_epoch, discriminator_params=None) -> Optimizer

A two-player optimizer is one `optax.partition` over the top-level params subtrees ("discriminator"
for the subtree `discriminator_params`, "model" for the rest), so its state is one optax state
whichever way it is stepped: `Optimizer.transform.update` steps both players from one gradient
(exactly what `update_player` for each player in turn gives), `update_player` steps one player's
Adam and leaves the other's parameters and moments untouched.
"""

import dataclasses
from typing import Any

import ml_collections
import optax

PLAYERS = ("model", "discriminator")


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


def _adam(optim: ml_collections.ConfigDict, schedule: optax.Schedule) -> optax.GradientTransformation:
  """Adam on `schedule`, after clipping each gradient entry (if enabled)."""
  adam = optax.adam(schedule, b1=optim.b1, b2=optim.b2, eps=optim.eps)
  return optax.chain(optax.clip(optim.clip_value), adam) if optim.clip_value else adam


@dataclasses.dataclass(frozen=True)
class Optimizer:
  transform: optax.GradientTransformation  # every parameter at once
  schedule: optax.Schedule  # the model's learning rate at each step
  # A two-player family's: player name (PLAYERS) -> its own transform, and the params subtree of the
  # discriminator; empty / None for a family with one player.
  players: dict[str, optax.GradientTransformation] = dataclasses.field(default_factory=dict)
  discriminator_params: str | None = None

  def labels(self, params: dict[str, Any]) -> dict[str, str]:
    """The player of each top-level params subtree."""
    return {name: ("discriminator" if name == self.discriminator_params else "model") for name in params}

  def update_player(self, player: str, grads: Any, opt_state: Any, params: Any) -> tuple[Any, Any]:
    """One step of `player`'s optimizer on its part of `grads` (a full tree; the other player's
    leaves are ignored): (new params, new opt_state), only that player's parameters and state changed."""
    mask = {name: label == player for name, label in self.labels(params).items()}
    updates, inner = optax.masked(self.players[player], mask).update(grads, opt_state.inner_states[player], params)
    new_state = opt_state._replace(inner_states={**opt_state.inner_states, player: inner})
    # optax.masked passes the other player's leaves through unchanged: apply this player's only.
    new_params = {
      name: optax.apply_updates(value, updates[name]) if mask[name] else value for name, value in params.items()
    }
    return new_params, new_state


def make_optimizer(
  optim: ml_collections.ConfigDict, steps_per_epoch: int, *, discriminator_params: str | None = None
) -> Optimizer:
  """Adam on the schedule of `make_schedule`.

  With `discriminator_params` (a family with a second player), that top-level params subtree gets
  its own Adam, on the same schedule from `optim.discriminator_learning_rate` (None: the same
  learning rate), and its own moments: one optax.partition, one optimizer state.
  """
  schedule = make_schedule(optim, steps_per_epoch)
  if discriminator_params is None:
    return Optimizer(_adam(optim, schedule), schedule)
  disc_optim = ml_collections.ConfigDict(optim.to_dict())
  if optim.discriminator_learning_rate is not None:
    disc_optim.learning_rate = optim.discriminator_learning_rate
    disc_optim.min_learning_rate = min(optim.min_learning_rate, optim.discriminator_learning_rate)
  players = {
    "model": _adam(optim, schedule),
    "discriminator": _adam(disc_optim, make_schedule(disc_optim, steps_per_epoch)),
  }

  def labels(params: dict[str, Any]) -> dict[str, str]:
    return {name: ("discriminator" if name == discriminator_params else "model") for name in params}

  return Optimizer(optax.partition(players, labels), schedule, players, discriminator_params)
