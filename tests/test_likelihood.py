"""Known-answer tests for dvae_jax.likelihood on a linear-Gaussian model with an exact marginal."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax.likelihood import bits_per_dim, importance_weighted_log_likelihood, log_mean_exp
from dvae_jax.losses import gaussian_log_likelihood

LATENT, DATA, SIGMA, BATCH = 2, 5, 0.5, 4


class LinearGaussian:
  """z ~ N(0, I), x | z ~ N(W z + b, sigma^2 I): p(x) and p(z|x) are Gaussian in closed form."""

  def __init__(self, weights: np.ndarray, bias: np.ndarray, x: np.ndarray):
    self.weights, self.bias, self.x = weights, bias, x
    precision = np.eye(LATENT) + weights.T @ weights / SIGMA**2
    self.post_cov = np.linalg.inv(precision)
    self.post_mean = (x - bias) @ weights @ self.post_cov / SIGMA**2  # [B, z]

  def log_marginal(self) -> np.ndarray:
    cov = self.weights @ self.weights.T + SIGMA**2 * np.eye(DATA)
    _, logdet = np.linalg.slogdet(cov)
    diff = self.x - self.bias
    maha = np.einsum("bi,bi->b", diff, np.linalg.solve(cov, diff.T).T)
    return -0.5 * (maha + logdet + DATA * math.log(2 * math.pi))

  def kl_to_posterior(self, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """KL(N(mean, diag(var)) || p(z|x)) per example; mean and var are [B, z]."""
    inv = np.linalg.inv(self.post_cov)
    diff = self.post_mean - mean
    _, logdet = np.linalg.slogdet(self.post_cov)
    return 0.5 * (
      np.sum(np.diag(inv) * var, axis=-1)
      + np.einsum("bi,ij,bj->b", diff, inv, diff)
      - LATENT
      + logdet
      - np.sum(np.log(var), axis=-1)
    )

  def log_likelihood_fn(self, x: np.ndarray):
    weights, bias, x = (jnp.asarray(a, jnp.float32) for a in (self.weights, self.bias, x))
    return lambda z: gaussian_log_likelihood(z @ weights.T + bias, x, math.log(SIGMA), batch_dims=2)


def _data(rng: np.random.Generator, weights: np.ndarray) -> LinearGaussian:
  bias = rng.normal(size=DATA)
  z = rng.normal(size=(BATCH, LATENT))
  x = z @ weights.T + bias + SIGMA * rng.normal(size=(BATCH, DATA))
  return LinearGaussian(weights, bias, x)


@pytest.fixture(scope="module")
def diagonal_posterior() -> LinearGaussian:
  # Orthogonal columns make W^T W, hence the exact posterior covariance, diagonal.
  rng = np.random.default_rng(0)
  q, _ = np.linalg.qr(rng.normal(size=(DATA, LATENT)))
  model = _data(rng, q * np.array([1.5, 0.7]))
  assert np.allclose(model.post_cov, np.diag(np.diag(model.post_cov)))
  return model


@pytest.fixture(scope="module")
def correlated_posterior() -> LinearGaussian:
  rng = np.random.default_rng(1)
  return _data(rng, rng.normal(size=(DATA, LATENT)))


def _estimate(model, mean, var, *, num_samples, chunk_size, key=0, x=None):
  x = model.x if x is None else x
  return np.asarray(
    importance_weighted_log_likelihood(
      jax.random.key(key),
      jnp.asarray(mean, jnp.float32),
      jnp.asarray(np.log(var), jnp.float32),
      model.log_likelihood_fn(x),
      num_samples=num_samples,
      chunk_size=chunk_size,
    )
  )


@pytest.mark.parametrize("num_samples,chunk_size", [(1, 1), (100, 25), (100, 7), (5000, 5000)])
def test_exact_posterior_gives_exact_log_marginal(diagonal_posterior, num_samples, chunk_size):
  # With q = p(z|x) every importance weight equals p(x), for any k and any chunking.
  model = diagonal_posterior
  est = _estimate(model, model.post_mean, np.diag(model.post_cov), num_samples=num_samples, chunk_size=chunk_size)
  np.testing.assert_allclose(est, model.log_marginal(), atol=1e-4)


def test_misspecified_posterior_tightens_towards_log_marginal(correlated_posterior):
  model = correlated_posterior
  # q ignores the posterior correlation, shifts the mean and has 1.5x the marginal variances.
  mean = model.post_mean + 0.3
  var = 1.5 * np.diag(model.post_cov) * np.ones((BATCH, LATENT))
  kl = model.kl_to_posterior(mean, var)
  assert np.all(kl > 0.1)
  truth = model.log_marginal()
  # Independent replicas of each x (one batch row each) average out the Monte Carlo noise;
  # small k gets more of them, since the gap between k = 100 and k = 5000 is only ~0.01 nats.
  ests = {}
  for k, reps in ((1, 4096), (10, 1024), (100, 4096), (5000, 64)):
    tile = lambda a, reps=reps: np.tile(a, (reps, 1))
    ests[k] = _estimate(model, tile(mean), tile(var), num_samples=k, chunk_size=min(k, 500), x=tile(model.x)).reshape(
      reps, BATCH
    )
  gaps = {k: truth - est.mean(axis=0) for k, est in ests.items()}  # [B] each
  # k = 1 is the ELBO, whose expected gap is KL(q || p(z|x)); the per-row standard error is ~0.03.
  np.testing.assert_allclose(gaps[1], kl, atol=0.15)
  np.testing.assert_allclose(gaps[1].mean(), kl.mean(), atol=0.08)
  mean_gaps = [gaps[k].mean() for k in (1, 10, 100, 5000)]
  assert all(a > b for a, b in zip(mean_gaps, mean_gaps[1:], strict=False)), mean_gaps
  np.testing.assert_allclose(gaps[5000], 0.0, atol=0.02)
  np.testing.assert_allclose(ests[5000], np.broadcast_to(truth, ests[5000].shape), atol=0.1)


def test_chunking_masks_surplus_samples(correlated_posterior):
  # k = 7 in chunks of 3: the third chunk draws 3 samples of which only the first counts.
  model = correlated_posterior
  mean = model.post_mean + 0.3
  var = 1.5 * np.diag(model.post_cov) * np.ones((BATCH, LATENT))
  est = _estimate(model, mean, var, num_samples=7, chunk_size=3, key=5)

  # The same per-chunk draws, then the weights and their log-mean-exp in float64 numpy.
  key = jax.random.key(5)
  eps = np.concatenate(
    [jax.random.normal(jax.random.fold_in(key, i), (3, BATCH, LATENT), jnp.float32) for i in range(3)]
  )
  z = mean + np.sqrt(var) * eps  # [9, B, z]
  resid = model.x - z @ model.weights.T - model.bias
  log_lik = -0.5 * np.sum(resid**2 / SIGMA**2 + math.log(2 * math.pi * SIGMA**2), axis=-1)
  log_prior = -0.5 * np.sum(z**2 + math.log(2 * math.pi), axis=-1)
  log_q = -0.5 * np.sum((z - mean) ** 2 / var + np.log(2 * math.pi * var), axis=-1)
  log_w = log_lik + log_prior - log_q
  lme = lambda w: np.log(np.mean(np.exp(w - w.max(0)), axis=0)) + w.max(0)
  np.testing.assert_allclose(est, lme(log_w[:7]), atol=1e-4)
  # Counting the two surplus draws would give a visibly different answer.
  assert np.max(np.abs(est - lme(log_w))) > 1e-2


def test_chunk_size_larger_than_k_equals_chunk_size_k(correlated_posterior):
  model = correlated_posterior
  var = np.diag(model.post_cov) * np.ones((BATCH, LATENT))
  a = _estimate(model, model.post_mean, var, num_samples=6, chunk_size=6)
  b = _estimate(model, model.post_mean, var, num_samples=6, chunk_size=100)
  np.testing.assert_array_equal(a, b)


def test_all_zero_weights_give_minus_inf_not_nan():
  mean = jnp.zeros((3, LATENT))
  est = importance_weighted_log_likelihood(
    jax.random.key(0), mean, mean, lambda z: jnp.full(z.shape[:2], -jnp.inf), num_samples=5, chunk_size=2
  )
  assert np.all(np.isneginf(np.asarray(est)))


def test_invalid_sizes_raise():
  mean = jnp.zeros((1, LATENT))
  with pytest.raises(ValueError):
    importance_weighted_log_likelihood(jax.random.key(0), mean, mean, lambda z: z[..., 0], num_samples=0, chunk_size=1)


def test_jit(diagonal_posterior):
  model = diagonal_posterior
  fn = model.log_likelihood_fn(model.x)

  @functools.partial(jax.jit, static_argnames=("num_samples", "chunk_size"))
  def estimate(key, mean, logvar, *, num_samples, chunk_size):
    return importance_weighted_log_likelihood(key, mean, logvar, fn, num_samples=num_samples, chunk_size=chunk_size)

  mean = jnp.asarray(model.post_mean, jnp.float32)
  logvar = jnp.asarray(np.log(np.diag(model.post_cov)) * np.ones((BATCH, LATENT)), jnp.float32)
  est = estimate(jax.random.key(3), mean, logvar, num_samples=50, chunk_size=16)
  np.testing.assert_allclose(est, model.log_marginal(), atol=1e-4)
  eager = importance_weighted_log_likelihood(jax.random.key(3), mean, logvar, fn, num_samples=50, chunk_size=16)
  np.testing.assert_allclose(est, eager, atol=1e-5)


def test_bits_per_dim():
  assert bits_per_dim(784 * math.log(2.0), 784) == pytest.approx(1.0)
  # 100 nats over a 28x28 image: 100 / (784 * 0.6931472) = 100 / 543.4274 = 0.1840172 bits/dim.
  assert bits_per_dim(100.0, 784) == pytest.approx(0.1840172, abs=1e-7)
  np.testing.assert_allclose(bits_per_dim(jnp.array([100.0, 200.0]), 784), [0.1840172, 0.3680344], rtol=1e-6)


def test_log_mean_exp_large_magnitudes():
  x = np.array([[-1e4, -1e4 + 1.0, -1e4 - 2.0], [-2e4, -2e4, -2e4]])
  expected = np.log(np.mean(np.exp(x - x.max(1, keepdims=True)), axis=1)) + x.max(1)
  got = np.asarray(log_mean_exp(jnp.asarray(x, jnp.float32), axis=1))
  assert np.all(np.isfinite(got))
  np.testing.assert_allclose(got, expected, rtol=1e-6)
  np.testing.assert_allclose(log_mean_exp(jnp.asarray(x.T, jnp.float32), axis=0), expected, rtol=1e-6)
