"""The jitted train and eval steps as `Experiment` offers them: each takes a batch built on the host
(global arrays) or rows not yet gathered (a `data.Batch`), and refuses a batch of the other step's
form with a message that says which form it takes."""

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from dvae_jax.data import Batch


@dataclasses.dataclass(frozen=True)
class CheckedStep:
  """A jitted step that takes either a built batch (global arrays, `Experiment.device_batch`) or
  rows not yet gathered (a `data.Batch`), and checks the leading axes of either first, so that a
  batch shaped for the other step is a clear error rather than one from deep in sharding.

  Rows are gathered where their split lives (`feed`): inside the jitted step from the training
  split kept on the devices (data.on_device), or else on the host, each process gathering and
  transferring its own devices' rows. Both give the step the same arrays, so the choice changes
  speed, not results. `lower` lowers the program a batch runs; anything else (`trace`, ...) is the
  built-batch program's."""

  jitted: Callable  # (state, built batch, *args)
  name: str  # "train_step" or "eval_step"
  axes: int  # leading axes before an example's own: 2 for train_step ([k, B]), 1 for eval_step ([B])
  feed: Callable[[Batch], tuple[Callable, tuple]]  # rows -> (the jitted program, its batch arguments)

  def __call__(self, state, batch, *args):
    program, batch_args = self._program(batch)
    return program(state, *batch_args, *args)

  def lower(self, state, batch, *args):
    program, batch_args = self._program(batch)
    return program.lower(state, *batch_args, *args)

  def _program(self, batch) -> tuple[Callable, tuple]:
    if isinstance(batch, Batch):
      self._check(batch.index.shape, f"Given rows whose index has shape {batch.index.shape}")
      return self.feed(batch)
    labels = batch.get("label") if isinstance(batch, dict) else None
    if labels is not None:
      self._check(np.shape(labels), f"Given a batch whose labels have shape {np.shape(labels)}")
    return self.jitted, (batch,)

  def _check(self, shape: tuple[int, ...], given: str) -> None:
    if len(shape) != self.axes:
      expected, other_form, unchanged = _BATCH_FORMS[self.name]
      hint = f", {other_form}" if len(shape) == 3 - self.axes else ""
      raise ValueError(f"{expected} {given}{hint}. {unchanged}")

  def __getattr__(self, name: str) -> Any:
    try:
      jitted = self.__dict__["jitted"]
    except KeyError:  # not yet initialized (a copy being made)
      raise AttributeError(name) from None
    return getattr(jitted, name)


# Per step: what it takes, what a batch of the other step's form is, what the refusal left unchanged.
_BATCH_FORMS = {
  "train_step": (
    "train_step takes a batch of k steps of B images, arrays [k, B, ...], which Experiment.device_batch(split, index) "
    "builds from a 2-D index [k, B], or the rows data.Batch(split, index) of such an index.",
    "built from a 1-D index [B] (eval_step's form); for one step, pass index[None] (shape [1, B])",
    "The state was not changed.",
  ),
  "eval_step": (
    "eval_step takes one batch of B images, arrays [B, ...] with a mask, which Experiment.device_batch(split, index) "
    "builds from a 1-D index [B], or the rows data.Batch(split, index) of such an index.",
    "built from a 2-D index [k, B] (train_step's form); evaluate one row of it at a time, index[i]",
    "Nothing was evaluated.",
  ),
}
