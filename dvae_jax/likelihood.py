"""Importance-weighted estimates of log p(x) for Gaussian-latent models (Burda et al., 2015)."""

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from dvae_jax.losses import diagonal_gaussian_log_density


def log_mean_exp(x: jax.Array, axis: int) -> jax.Array:
  """log(mean(exp(x))) along `axis`, computed stably."""
  x = jnp.asarray(x)
  return logsumexp(x, axis=axis) - math.log(x.shape[axis])


def bits_per_dim(nll_nats: jax.Array | float, num_dims: int) -> jax.Array | float:
  """nats per image -> bits per dimension: nll / (num_dims * ln 2)."""
  return nll_nats / (num_dims * math.log(2.0))


def importance_weighted_log_likelihood(
  key: jax.Array,
  mean: jax.Array,
  logvar: jax.Array,
  log_likelihood_fn: Callable[[jax.Array], jax.Array],
  *,
  num_samples: int,
  chunk_size: int,
  log_prior_fn: Callable[[jax.Array], jax.Array] | None = None,
) -> jax.Array:
  """Importance-weighted estimate of log p(x) with k = `num_samples` samples.

  log p(x) ~ logmeanexp_k [log p(x|z_k) + log p(z_k) - log q(z_k|x)], with
  z_k ~ q(z|x) = N(mean, diag(exp(logvar))) and prior p(z) given by `log_prior_fn`
  (N(0, I) if None).

  In expectation the estimate is a lower bound on log p(x) that tightens as k grows
  (k = 1 is the ELBO). It is a true log-likelihood only when log p(x|z) is a normalized
  likelihood of the data as given (e.g. Bernoulli on binarized pixels). For continuous
  data in [0, 1] under a Gaussian likelihood it is a log-density, and a bits/dim figure
  would need the usual discretization correction; none is applied here: the result is
  in nats under the model's likelihood as-is.

  Samples are drawn in ceil(k / chunk_size) chunks (chunk i uses
  `jax.random.fold_in(key, i)`) and folded into a streaming logsumexp, so memory is
  O(chunk_size * B) rather than O(k * B). Surplus samples of the last chunk are masked
  out so exactly k count. `num_samples` and `chunk_size` must be static under jit.

  Args:
    key: PRNG key.
    mean: [B, z] posterior means.
    logvar: [B, z] posterior log-variances.
    log_likelihood_fn: maps z [S, B, z] to log p(x|z) [S, B].
    log_prior_fn: maps z [S, B, z] to log p(z) [S, B]; None for N(0, I).
    num_samples: k, the number of importance samples per example.
    chunk_size: samples drawn per chunk; clamped to k.

  Returns:
    [B] estimate of log p(x) in nats.
  """
  if num_samples < 1 or chunk_size < 1:
    raise ValueError(f"num_samples={num_samples} and chunk_size={chunk_size} must be >= 1")
  mean, logvar = jnp.asarray(mean), jnp.asarray(logvar)
  # A chunk larger than k would only draw samples that are masked out.
  chunk_size = min(chunk_size, num_samples)
  num_chunks = -(-num_samples // chunk_size)
  std = jnp.exp(0.5 * logvar)
  zeros = jnp.zeros_like(mean)

  def step(carry, chunk_index):
    running_max, running_sum = carry
    eps = jax.random.normal(jax.random.fold_in(key, chunk_index), (chunk_size, *mean.shape), mean.dtype)
    z = mean + std * eps
    log_prior = diagonal_gaussian_log_density(z, zeros, zeros) if log_prior_fn is None else log_prior_fn(z)
    log_w = log_likelihood_fn(z) + log_prior - diagonal_gaussian_log_density(z, mean, logvar)
    valid = chunk_index * chunk_size + jnp.arange(chunk_size) < num_samples
    log_w = jnp.where(valid[:, None], log_w, -jnp.inf)
    new_max = jnp.maximum(running_max, jnp.max(log_w, axis=0))
    # Shift by 0 while every weight so far is zero, so -inf - -inf never occurs.
    shift = jnp.where(jnp.isfinite(new_max), new_max, 0.0)
    running_sum = running_sum * jnp.exp(running_max - shift) + jnp.sum(jnp.exp(log_w - shift), axis=0)
    return (new_max, running_sum), None

  batch = mean.shape[0]
  init = (jnp.full((batch,), -jnp.inf, mean.dtype), jnp.zeros((batch,), mean.dtype))
  (running_max, running_sum), _ = jax.lax.scan(step, init, jnp.arange(num_chunks))
  shift = jnp.where(jnp.isfinite(running_max), running_max, 0.0)
  return jnp.log(running_sum) + shift - math.log(num_samples)
