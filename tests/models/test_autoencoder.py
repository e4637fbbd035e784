"""models/autoencoder.py: the autoencoder family of arunarn2/AutoEncoder and Hands-On ML on a fake model's fixed
outputs: reconstruction metrics against the clean image, sparsity penalties, code activity, and the linear
output under MSE (a Gaussian likelihood with an identity mean, which every family that composes the
likelihood reconstructs as it is)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax.configs import ConfigError
from dvae_jax.models import default_model_config, get_family, model_config
from dvae_jax.models.autoencoder import ACTIVE_THRESHOLD, KL_EPS, ae_terms
from dvae_jax.models.family import LikelihoodConfig
from tests.helpers import AE_RNGS, TINY, ae_config

CLEAN = np.array([[[[0.0], [1.0]], [[0.5], [0.25]]], [[[1.0], [1.0]], [[0.0], [0.75]]]], np.float32)  # [2, 2, 2, 1]
NOISY = np.clip(CLEAN + np.array([0.3, -0.2, 0.1, 0.4], np.float32).reshape(1, 2, 2, 1), 0.0, 1.0)
LOGITS = np.array([[[[2.0], [-1.0]], [[0.0], [3.0]]], [[[1.0], [0.5]], [[-2.0], [0.0]]]], np.float32)
CODE = np.array([[0.2, 0.0, 0.6], [0.05, 0.9, 0.3]], np.float32)  # [B, D]


def fake_outputs():
  return {"logits": jnp.asarray(LOGITS)[None], "noisy": jnp.asarray(NOISY), "code": jnp.asarray(CODE)}


def numpy_terms(target):
  """Hand-computed per-image terms against `target` (numpy)."""
  p = 1.0 / (1.0 + np.exp(-LOGITS))
  bce = -np.sum(target * np.log(p) + (1 - target) * np.log(1 - p), axis=(1, 2, 3))
  half_sse = 0.5 * np.sum((p - target) ** 2, axis=(1, 2, 3)) + 4 * 0.5 * np.log(2 * np.pi)
  mse = np.sum((p - target) ** 2, axis=(1, 2, 3))
  return bce, half_sse, mse


def test_reconstruction_metrics_are_against_the_clean_image():
  config = ae_config(data=TINY, corruption={"name": "gaussian", "std": 0.1})
  terms, objective = ae_terms(fake_outputs(), {"image": jnp.asarray(CLEAN)}, config)
  bce, _, mse = numpy_terms(CLEAN)
  np.testing.assert_allclose(terms["recon_nats"], bce, rtol=1e-6)
  np.testing.assert_allclose(terms["recon_mse"], mse, rtol=1e-6)
  np.testing.assert_allclose(terms["psnr_db"], 10 * np.log10(1 / (mse / 4)), rtol=1e-6)
  noisy_mse = np.sum((NOISY - CLEAN) ** 2, axis=(1, 2, 3))
  np.testing.assert_allclose(terms["noisy_mse"], noisy_mse, rtol=1e-6)
  np.testing.assert_allclose(terms["noisy_psnr_db"], 10 * np.log10(4 / noisy_mse), rtol=1e-6)
  # Without sparsity the objective is exactly the reconstruction loss.
  np.testing.assert_array_equal(objective, terms["recon_nats"])
  # Against the noisy input the numbers would differ: the test above pins the target.
  assert not np.allclose(numpy_terms(NOISY)[0], bce, rtol=1e-3)
  assert not np.allclose(numpy_terms(NOISY)[2], mse, rtol=1e-3)


def test_gaussian_likelihood_is_the_seed_mse_up_to_scale_and_constant():
  config = ae_config(data=TINY, likelihood="gaussian")
  terms, objective = ae_terms(fake_outputs(), {"image": jnp.asarray(CLEAN)}, config)
  _, half_sse, mse = numpy_terms(CLEAN)
  np.testing.assert_allclose(objective, half_sse, rtol=1e-6)
  np.testing.assert_allclose(terms["recon_mse"], mse, rtol=1e-6)
  assert "noisy_mse" not in terms and "noisy_psnr_db" not in terms  # no corruption: nothing to compare


def test_identity_mean_gaussian_log_likelihood_is_the_closed_form():
  """A linear output is the mean itself, unbounded and unclipped:
  log p = -sum((x - mu)^2) / (2 sigma^2) - n log(sigma) - n/2 log(2 pi)."""
  sigma, n = 0.5, CLEAN[0].size
  likelihood = LikelihoodConfig(likelihood="gaussian", gaussian_log_std=math.log(sigma), gaussian_mean="identity")
  mu = LOGITS  # values in [-2, 3]: outside [0, 1] on purpose
  expected = (
    -0.5 * np.sum((CLEAN - mu) ** 2, axis=(1, 2, 3)) / sigma**2 - n * math.log(sigma) - n / 2 * math.log(2 * math.pi)
  )
  np.testing.assert_allclose(likelihood.log_likelihood(jnp.asarray(mu), jnp.asarray(CLEAN)), expected, rtol=1e-6)
  np.testing.assert_array_equal(likelihood.mean(jnp.asarray(mu)), mu)
  np.testing.assert_array_equal(likelihood.image(jnp.asarray(mu)), np.clip(mu, 0.0, 1.0))
  # The default is the sigmoid mean, which is already an image: `image` leaves it untouched.
  default = LikelihoodConfig(likelihood="gaussian")
  probabilities = default.mean(jnp.asarray(mu))
  np.testing.assert_array_equal(probabilities, jax.nn.sigmoid(jnp.asarray(mu)))
  assert default.image(probabilities) is probabilities


def test_identity_mean_needs_a_gaussian_likelihood():
  with pytest.raises(ConfigError, match=r"gaussian_mean='identity' is not valid; expected 'sigmoid' with likelihood"):
    ae_config(gaussian_mean="identity")
  with pytest.raises(
    ConfigError, match=r"gaussian_mean='tanh' is not valid; expected one of \['identity', 'sigmoid'\]"
  ):
    ae_config(likelihood="gaussian", gaussian_mean="tanh")


def test_linear_output_terms_score_the_unclipped_mean_and_the_clipped_image():
  """The loss is SSE / 2 of the linear output as it is; recon_mse and psnr_db score it clipped to [0, 1]."""
  config = ae_config(data=TINY, likelihood="gaussian", gaussian_mean="identity")
  terms, objective = ae_terms(fake_outputs(), {"image": jnp.asarray(CLEAN)}, config)
  half_sse = 0.5 * np.sum((LOGITS - CLEAN) ** 2, axis=(1, 2, 3)) + 4 * 0.5 * np.log(2 * np.pi)
  np.testing.assert_allclose(objective, half_sse, rtol=1e-6)
  mse = np.sum((np.clip(LOGITS, 0.0, 1.0) - CLEAN) ** 2, axis=(1, 2, 3))
  np.testing.assert_allclose(terms["recon_mse"], mse, rtol=1e-6)
  np.testing.assert_allclose(terms["psnr_db"], 10 * np.log10(4 / mse), rtol=1e-6)


@pytest.mark.parametrize("family", ["ae", "vae", "input_corruption_vae", "dvae"])
def test_reconstruct_returns_the_linear_output_with_an_identity_mean(family):
  """The same parameters reconstruct sigmoid(output) by default and the output itself with gaussian_mean
  "identity" (not clipped: drawing and scoring clip), in every family that composes the likelihood."""

  def config(**likelihood):
    section = default_model_config(family, "mlp")
    section.update(likelihood="gaussian", **likelihood)
    section["network"].update(fc_sizes=(3,), activation="relu")
    return model_config(section, **TINY)

  linear, sigmoid = config(gaussian_mean="identity"), config()
  rngs = {**AE_RNGS, "reparam": jax.random.key(4)}
  x = jax.random.uniform(jax.random.key(3), (3, *TINY["image_shape"]))
  variables = get_family(family).module(linear).init(rngs, x, train=False)

  def reconstruct_and_output(config):
    model = get_family(family).module(config)
    outputs = model.apply(variables, x, train=False, rngs=rngs)
    output = outputs["dae_logits" if family == "dvae" else "logits"][(0, 0) if family == "input_corruption_vae" else 0]
    return model.apply(variables, x, rngs=rngs, method="reconstruct"), output

  recon, output = reconstruct_and_output(linear)
  np.testing.assert_array_equal(recon, output)
  assert not np.allclose(output, jax.nn.sigmoid(output), atol=1e-3)
  recon, output = reconstruct_and_output(sigmoid)  # the DVAE's DAE sees a different input: its own output
  np.testing.assert_array_equal(recon, jax.nn.sigmoid(output))


def test_code_activity_metrics():
  terms, _ = ae_terms(fake_outputs(), {"image": jnp.asarray(CLEAN)}, ae_config(data=TINY))
  np.testing.assert_allclose(terms["code_mean_activation"], [0.8 / 3, 1.25 / 3], rtol=1e-6)
  assert ACTIVE_THRESHOLD == 0.1
  np.testing.assert_allclose(terms["code_active_fraction"], [2 / 3, 2 / 3], rtol=1e-6)  # 0.05 and 0.0 are off
  np.testing.assert_array_equal(terms["sparsity_penalty"], [0.0, 0.0])


def test_l1_sparsity_penalty():
  config = ae_config(data=TINY, sparsity={"name": "l1", "weight": 0.5})
  terms, objective = ae_terms(fake_outputs(), {"image": jnp.asarray(CLEAN)}, config)
  penalty = 0.5 * np.abs(CODE).sum(axis=1)  # [0.4, 0.625]
  np.testing.assert_allclose(terms["sparsity_penalty"], penalty, rtol=1e-6)
  np.testing.assert_allclose(objective, numpy_terms(CLEAN)[0] + penalty, rtol=1e-6)


def test_kl_sparsity_penalty_is_a_batch_term():
  config = ae_config(
    data=TINY,
    net={"code_activation": "sigmoid"},
    sparsity={"name": "kl", "weight": 2.0, "target": 0.1},
  )
  terms, objective = ae_terms(fake_outputs(), {"image": jnp.asarray(CLEAN)}, config)
  rho = CODE.mean(axis=0)  # [0.125, 0.45, 0.45]
  kl = np.sum(0.1 * np.log(0.1 / rho) + 0.9 * np.log(0.9 / (1 - rho)))
  np.testing.assert_allclose(terms["sparsity_penalty"], [2.0 * kl, 2.0 * kl], rtol=1e-5)
  bce = numpy_terms(CLEAN)[0]
  # A mean over the batch is "mean reconstruction + weight * KL".
  np.testing.assert_allclose(np.mean(objective), np.mean(bce) + 2.0 * kl, rtol=1e-5)
  # A unit that is never on gives a large but finite penalty (rho clipped to eps).
  outputs = {**fake_outputs(), "code": jnp.asarray(CODE).at[:, 1].set(0.0)}
  terms, _ = ae_terms(outputs, {"image": jnp.asarray(CLEAN)}, config)
  off = 0.1 * np.log(0.1 / KL_EPS) + 0.9 * np.log(0.9 / (1 - KL_EPS))
  on = 0.1 * np.log(0.1 / rho[[0, 2]]) + 0.9 * np.log(0.9 / (1 - rho[[0, 2]]))
  np.testing.assert_allclose(terms["sparsity_penalty"][0], 2.0 * (off + on.sum()), rtol=1e-4)


def test_kl_sparsity_needs_a_sigmoid_code():
  with pytest.raises(ConfigError, match=r"code must come from a sigmoid layer .* has code activation 'relu'"):
    ae_config(sparsity={"name": "kl"})
  with pytest.raises(ConfigError, match=r"has code activation None"):
    ae_config("handson_conv", sparsity={"name": "kl"})
  with pytest.raises(ConfigError, match=r"sparsity.target=1.0 is not valid; expected a value in \(0.0, 1.0\)"):
    ae_config(net={"code_activation": "sigmoid"}, sparsity={"name": "kl", "target": 1.0})
  with pytest.raises(ConfigError, match=r"unknown sparsity 'l2'"):
    ae_config(sparsity={"name": "l2"})
