"""losses.py: loss terms against closed forms and numpy, and the reference's L2 set."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax import losses


def test_kl_divergence_matches_closed_form():
  rng = np.random.default_rng(0)
  mean, logvar = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
  var = np.exp(logvar)
  expected = 0.5 * np.sum(var + mean**2 - 1.0 - logvar, axis=1)
  np.testing.assert_allclose(losses.kl_divergence(mean, logvar), expected, rtol=1e-5)
  assert float(losses.kl_divergence(jnp.zeros((1, 5)), jnp.zeros((1, 5)))[0]) == 0.0


def test_kl_divergence_matches_monte_carlo():
  mean, logvar = jnp.array([[0.5, -1.0]]), jnp.array([[-0.5, 0.3]])
  z = mean + jnp.exp(0.5 * logvar) * jax.random.normal(jax.random.key(0), (200_000, 2))
  log_q = losses.diagonal_gaussian_log_density(z, mean, logvar)
  log_p = losses.diagonal_gaussian_log_density(z, jnp.zeros(2), jnp.zeros(2))
  np.testing.assert_allclose(jnp.mean(log_q - log_p), losses.kl_divergence(mean, logvar)[0], rtol=1e-2)


def test_bernoulli_log_likelihood_is_minus_sigmoid_cross_entropy():
  rng = np.random.default_rng(1)
  logits, x = rng.normal(size=(2, 4, 4, 1)) * 3, rng.uniform(size=(2, 4, 4, 1))
  p = 1 / (1 + np.exp(-logits))
  expected = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
  np.testing.assert_allclose(losses.bernoulli_log_likelihood(logits, x), expected, rtol=1e-5)
  # Zero logits: every pixel costs log 2, whatever the target.
  np.testing.assert_allclose(
    losses.bernoulli_log_likelihood(jnp.zeros((1, 784)), jnp.full((1, 784), 0.3)), [-784 * np.log(2)], rtol=1e-6
  )


def test_bernoulli_log_likelihood_is_stable_for_large_logits():
  value = losses.bernoulli_log_likelihood(jnp.array([[200.0, -200.0]]), jnp.array([[1.0, 0.0]]))
  assert np.isfinite(value).all() and abs(float(value[0])) < 1e-30


def test_gaussian_log_likelihood_matches_numpy():
  mean, x, log_std = np.array([[0.2, 0.4]]), np.array([[0.0, 1.0]]), -1.0
  sigma = np.exp(log_std)
  expected = np.sum(-0.5 * ((x - mean) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi))
  np.testing.assert_allclose(losses.gaussian_log_likelihood(mean, x, log_std), [expected], rtol=1e-6)


def test_softmax_cross_entropy():
  logits = np.array([[1.0, 2.0, 3.0]])
  expected = -np.log(np.exp(1.0) / np.exp(logits).sum())
  np.testing.assert_allclose(losses.softmax_cross_entropy(logits, np.array([0])), [expected], rtol=1e-6)


@pytest.mark.parametrize("weight", [0.0, 5e-4])
def test_l2_penalty_uses_the_reference_set(weight):
  params = {
    "conv_0": {"kernel": jnp.ones((5, 5, 1, 2)), "bias": jnp.full((2,), 2.0)},
    "dense_0": {"kernel": jnp.full((3, 2), 3.0), "bias": jnp.ones((2,))},
    "bn_dense_0": {"scale": jnp.full((2,), 10.0)},
  }
  # tf.nn.l2_loss convention: sum(w^2) / 2 over dense weights, dense biases and conv biases.
  expected = weight * 0.5 * (2 * 4.0 + 6 * 9.0 + 2 * 1.0)
  got = losses.l2_penalty(params, weight, include=losses.reference_l2_include)
  np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_the_reference_l2_set_leaves_the_prior_out():
  params = {
    "prior": {"means": jnp.ones((3, 2))},  # a VAE's
    "vae": {"prior": {"logits": jnp.ones(3)}},  # a DVAE's
    "mean": {"kernel": jnp.full(1, 2.0)},
  }
  assert float(losses.l2_penalty(params, 1.0, include=losses.reference_l2_include)) == 2.0
