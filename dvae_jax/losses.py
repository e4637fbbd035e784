"""Pure loss terms. Every per-example term sums over that example's dimensions (nats)."""

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

_LOG_2PI = math.log(2.0 * math.pi)


def _sum_except_batch(x: jax.Array, batch_dims: int = 1) -> jax.Array:
  return jnp.sum(x, axis=tuple(range(batch_dims, x.ndim)))


def kl_divergence(mean: ArrayLike, logvar: ArrayLike) -> jax.Array:
  """KL(N(mean, exp(logvar)) || N(0, I)) per example, in the log-variance form.

  -1/2 sum(1 + g - exp(g) - mu^2), g = log sigma^2, summed over all but the first axis.
  """
  mean, logvar = jnp.asarray(mean), jnp.asarray(logvar)
  return -0.5 * _sum_except_batch(1.0 + logvar - jnp.exp(logvar) - jnp.square(mean))


def bernoulli_log_likelihood(logits: ArrayLike, targets: ArrayLike, *, batch_dims: int = 1) -> jax.Array:
  """log p(x | logits) for x in [0, 1], summed over all but the leading `batch_dims` axes.

  For non-binary x this is minus the sigmoid cross-entropy, as used by the reference code.
  """
  logits, targets = jnp.asarray(logits), jnp.asarray(targets)
  # x * log(sigmoid(l)) + (1 - x) * log(1 - sigmoid(l)), written stably.
  log_p = targets * jax.nn.log_sigmoid(logits) + (1.0 - targets) * jax.nn.log_sigmoid(-logits)
  return _sum_except_batch(log_p, batch_dims)


def gaussian_log_likelihood(
  mean: ArrayLike, targets: ArrayLike, log_std: ArrayLike, *, batch_dims: int = 1
) -> jax.Array:
  """log N(x; mean, exp(log_std)^2), summed over all but the leading `batch_dims` axes."""
  mean, targets, log_std = jnp.asarray(mean), jnp.asarray(targets), jnp.asarray(log_std)
  z = (targets - mean) * jnp.exp(-log_std)
  log_p = -0.5 * (jnp.square(z) + _LOG_2PI) - log_std
  return _sum_except_batch(log_p, batch_dims)


def diagonal_gaussian_log_density(x: ArrayLike, mean: ArrayLike, logvar: ArrayLike) -> jax.Array:
  """log N(x; mean, diag(exp(logvar))), summed over the last axis."""
  x, mean, logvar = jnp.asarray(x), jnp.asarray(mean), jnp.asarray(logvar)
  return -0.5 * jnp.sum(jnp.square(x - mean) * jnp.exp(-logvar) + logvar + _LOG_2PI, axis=-1)


def softmax_cross_entropy(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
  """-log softmax(logits)[label] per example."""
  logits = jnp.asarray(logits)
  log_probs = jax.nn.log_softmax(logits, axis=-1)
  return -jnp.take_along_axis(log_probs, jnp.asarray(labels)[..., None], axis=-1)[..., 0]


def l2_penalty(
  params,
  weight: float,
  *,
  include: Callable[[tuple[str, ...], jax.Array], bool],
  multiplicity: Callable[[tuple[str, ...]], int] | None = None,
) -> jax.Array:
  """weight * sum(w^2) / 2 over the leaves `include(path, leaf)` selects (tf.nn.l2_loss convention),
  each leaf counted `multiplicity(path)` times (once if None)."""
  total = jnp.zeros((), jnp.float32)
  for path, leaf in jax.tree_util.tree_leaves_with_path(params):
    names = tuple(str(getattr(k, "key", k)) for k in path)
    if include(names, leaf):
      count = 1 if multiplicity is None else multiplicity(names)
      total = total + count * (0.5 * jnp.sum(jnp.square(leaf)))
  return weight * total


def reference_l2_include(path: tuple[str, ...], leaf: jax.Array) -> bool:
  """The reference's L2 set: dense weights and biases, conv biases; not conv kernels nor BN, nor
  the parameters of a learned prior (they are a distribution's, not a layer's)."""
  return leaf.ndim < 4 and not any(name.startswith("bn_") or name == "prior" for name in path)
