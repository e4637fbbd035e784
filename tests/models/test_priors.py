"""models/priors.py: the learned Gaussian-mixture prior: its densities, samplers, Monte-Carlo KL and
importance-weighted NLL against numpy and closed forms, and a pulse of training and evaluation with it."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

from dvae_jax import evaluate, losses, train
from dvae_jax.configs import ConfigError, load_experiment
from dvae_jax.experiment import Experiment
from dvae_jax.inference import restore_run
from dvae_jax.likelihood import importance_weighted_log_likelihood
from dvae_jax.models import get_family
from dvae_jax.models.priors import MixturePrior
from dvae_jax.models.vae import kl_terms, reparameterize, vae_terms
from tests.helpers import TINY, hparams

MIXTURE = {"name": "mixture", "components": 3}
# Fixed parameters of a 3-component mixture in 2 dimensions.
MEANS = np.array([[-2.0, 0.0], [2.0, 1.0], [0.0, -2.0]])
LOG_SCALES = np.array([[0.0, -0.5], [-0.3, 0.2], [0.1, 0.0]])
LOGITS = np.array([0.1, -0.2, 0.3])


def mixture_params(means=MEANS, log_scales=LOG_SCALES, logits=LOGITS) -> dict:
  return {"params": {"means": jnp.asarray(means), "log_scales": jnp.asarray(log_scales), "logits": jnp.asarray(logits)}}


def numpy_joint_log_prob(z, means=MEANS, log_scales=LOG_SCALES, logits=LOGITS):
  """log pi_k + log N(z; mu_k, diag sigma_k^2) [..., K], in float64."""
  z = np.asarray(z, np.float64)[..., None, :]
  var = np.exp(2 * log_scales)
  log_normal = np.sum(-0.5 * (z - means) ** 2 / var - 0.5 * np.log(2 * np.pi * var), axis=-1)
  return logits - logsumexp(logits) + log_normal


def numpy_gaussian_log_density(x, mean, var):
  return np.sum(-0.5 * (x - mean) ** 2 / var - 0.5 * np.log(2 * np.pi * var), axis=-1)


def test_log_prob_and_responsibilities_match_numpy():
  prior = MixturePrior(components=3).module(2)
  # The last code is far from every mean: a naive sum of exp(log N) underflows to log 0 there.
  z = np.array([[-2.0, 0.3], [1.5, 1.0], [0.0, 0.0], [60.0, -60.0]])
  joint = numpy_joint_log_prob(z)
  log_prob = prior.apply(mixture_params(), jnp.asarray(z, jnp.float32), method="log_prob")
  np.testing.assert_allclose(log_prob, logsumexp(joint, axis=-1), rtol=1e-5)
  responsibilities = prior.apply(mixture_params(), jnp.asarray(z, jnp.float32), method="responsibilities")
  np.testing.assert_allclose(responsibilities, np.exp(joint - logsumexp(joint, axis=-1, keepdims=True)), atol=1e-5)
  # Leading axes pass through: codes [S, B, z] -> [S, B].
  assert prior.apply(mixture_params(), jnp.zeros((5, 4, 2)), method="log_prob").shape == (5, 4)


def test_fixed_weights_stay_uniform_and_are_not_parameters():
  prior = MixturePrior(components=4, learn_weights=False, init_scale=0.5).module(3)
  params = prior.init(jax.random.key(0), jnp.zeros((1, 3)), method="log_prob")["params"]
  assert sorted(params) == ["log_scales", "means"]
  assert params["means"].shape == (4, 3) and np.all(params["log_scales"] == 0.0)
  assert len(np.unique(params["means"])) == 12  # distinct means: the components can separate
  np.testing.assert_allclose(prior.apply({"params": params}, method="log_weights"), np.full(4, -math.log(4)))


def test_bad_component_count_is_a_config_error():
  with pytest.raises(ConfigError, match=r"config\.model\.prior\.components=0 is not valid"):
    hparams("vae", "mlp", prior={"name": "mixture", "components": 0})


def test_sampling_statistics():
  pi = np.array([0.2, 0.3, 0.5])
  means = np.array([[-100.0, 0.0], [100.0, 0.0], [0.0, 100.0]])  # far apart: the nearest mean names the component
  log_scales = np.log(np.array([[1.0, 2.0], [0.5, 1.0], [3.0, 0.25]]))
  params = mixture_params(means, log_scales, np.log(pi))
  prior = MixturePrior(components=3).module(2)
  num = 20_000
  z = np.asarray(prior.apply(params, jax.random.key(0), num, method="sample"))
  assert z.shape == (num, 2)
  component = np.argmin(np.sum((z[:, None] - means) ** 2, axis=-1), axis=-1)
  # Binomial standard errors are under 0.0036: 0.015 is over four of them.
  np.testing.assert_allclose(np.bincount(component, minlength=3) / num, pi, atol=0.015)
  per_component = np.asarray(prior.apply(params, jax.random.key(1), 5000, method="sample_per_component"))
  assert per_component.shape == (3, 5000, 2)
  scales = np.exp(log_scales)
  # Standard errors of a mean are scale / sqrt(5000) < scale / 70.
  np.testing.assert_allclose(per_component.mean(axis=1), means, atol=float(scales.max() * 4 / 70))
  np.testing.assert_allclose(per_component.std(axis=1), scales, rtol=0.05)


@pytest.mark.parametrize("sample_mode,samples", [("elbo", 3), ("average_z", 4)])
def test_monte_carlo_kl_is_log_q_minus_log_p_of_the_decoded_draws(sample_mode, samples):
  sampling = {"samples": samples, "sample_mode": sample_mode}
  config = hparams("vae", "mlp", net={"fc_sizes": (8,)}, data=TINY, latent_dim=2, prior=MIXTURE, **sampling)
  model = get_family("vae").module(config)
  x = jnp.array([[[[0.0], [1.0]], [[1.0], [0.0]]], [[[1.0], [1.0]], [[0.0], [1.0]]]])
  variables = model.init({"params": jax.random.key(0), "reparam": jax.random.key(1)}, x, train=False)
  variables["params"]["prior"] = mixture_params()["params"]
  outputs = model.apply(variables, x, train=False, rngs={"reparam": jax.random.key(2)})
  z, mean, logvar = (np.asarray(outputs[name], np.float64) for name in ("z", "mean", "logvar"))
  assert z.shape == (1 if sample_mode == "average_z" else samples, 2, 2)
  # "average_z" decodes the mean of k draws: q is N(mean, sigma^2 / k).
  var = np.exp(logvar) / (samples if sample_mode == "average_z" else 1)
  log_q = numpy_gaussian_log_density(z, mean, var)
  log_p = logsumexp(numpy_joint_log_prob(z), axis=-1)
  np.testing.assert_allclose(outputs["log_prior"], log_p, rtol=1e-5)
  kl, elbo_kl = kl_terms(outputs, config)
  np.testing.assert_allclose(kl, np.mean(log_q - log_p, axis=0), rtol=1e-4, atol=1e-4)
  np.testing.assert_array_equal(kl, elbo_kl)


@pytest.mark.parametrize("sample_mode,samples", [("elbo", 1), ("average_z", 4)])
def test_monte_carlo_kl_averages_to_the_analytic_kl_of_a_one_component_mixture(sample_mode, samples):
  one_component = {"name": "mixture", "components": 1}
  config = hparams("vae", "mlp", data=TINY, latent_dim=2, prior=one_component, samples=samples, sample_mode=sample_mode)
  # One component at 0 with unit scales is N(0, I), whose KL to N(mean, var) is analytic.
  prior, params = MixturePrior(components=1).module(2), mixture_params(np.zeros((1, 2)), np.zeros((1, 2)), np.zeros(1))
  mean, logvar = jnp.array([[0.5, -1.0], [2.0, 0.0]]), jnp.array([[0.0, -1.0], [1.0, -2.0]])

  def estimate(key):
    z = reparameterize(key, mean, logvar, samples=samples, mode=sample_mode)
    outputs = {"mean": mean, "logvar": logvar, "z": z, "log_prior": prior.apply(params, z, method="log_prob")}
    return kl_terms(outputs, config)[0]

  draws = jax.jit(jax.vmap(estimate))(jax.random.split(jax.random.key(0), 20_000))  # [draws, B]
  decoded_logvar = logvar - math.log(samples) if sample_mode == "average_z" else logvar
  # The estimate's standard error is under 0.02 nats here.
  np.testing.assert_allclose(draws.mean(axis=0), losses.kl_divergence(mean, decoded_logvar), atol=0.06)


def test_known_answer_objective_with_a_mixture_prior():
  config = hparams("vae", "mlp", data=TINY, latent_dim=2, prior=MIXTURE, label_head=False)
  x = np.array([[[[0.0], [1.0]], [[1.0], [0.0]]]])  # [B=1, 2, 2, 1]
  logits = np.array([[[[[0.0], [2.0]], [[-1.0], [1.0]]]]])  # [S=1, B, 2, 2, 1]
  mean, logvar = np.array([[0.5, -0.5]]), np.array([[0.0, math.log(0.25)]])
  z = np.array([[[1.0, -1.0]]])  # [S, B, z]
  log_prior = np.array([[-3.0]])  # log p(z) as a prior module would report it
  outputs = dict(logits=logits, mean=mean, logvar=logvar, z=z, log_prior=log_prior)
  outputs = {name: jnp.asarray(value, jnp.float32) for name, value in outputs.items()}
  terms, objective = vae_terms(outputs, {"image": jnp.asarray(x)}, config)
  # BCE per pixel (x, logit) = (0, 0), (1, 2), (1, -1), (0, 1): log 2, log(1 + e^-2), log(1 + e), log(1 + e).
  recon = math.log(2) + math.log1p(math.exp(-2)) + 2 * math.log1p(math.e)
  # log q(z|x) = log N(1; 0.5, 1) + log N(-1; -0.5, 0.25) = -0.125 - 0.5 log 2pi - 0.5 - 0.5 log(2pi / 4).
  log_q = -0.125 - 0.5 * math.log(2 * math.pi) - 0.5 - 0.5 * math.log(2 * math.pi * 0.25)
  kl = log_q - (-3.0)
  np.testing.assert_allclose(terms["recon_nats"], [recon], rtol=1e-6)
  np.testing.assert_allclose(terms["kl_nats"], [kl], rtol=1e-6)
  np.testing.assert_allclose(terms["neg_elbo_nats"], [recon + kl], rtol=1e-6)
  np.testing.assert_allclose(objective, [recon + kl], rtol=1e-6)


def test_importance_weighted_nll_of_a_linear_gaussian_model_with_a_mixture_prior():
  """x | z ~ N(z, s^2 I) under the mixture: p(x) = sum_k pi_k N(x; mu_k, (sigma_k^2 + s^2) I)."""
  s2 = 0.25
  x = np.array([[-2.0, 0.3], [1.5, 1.0], [0.0, 0.0], [3.0, -3.0]])
  var = np.exp(2 * LOG_SCALES)
  log_pi = LOGITS - logsumexp(LOGITS)
  exact = logsumexp(log_pi + numpy_gaussian_log_density(x[:, None], MEANS, var + s2), axis=-1)
  # Proposal: the exact posterior's mean and twice its variance (a mixture's posterior is not Gaussian).
  post_var = 1 / (1 / var + 1 / s2)  # [K, z]
  post_mean = post_var * (MEANS / var + x[:, None] / s2)  # [B, K, z]
  weights = np.exp(log_pi + numpy_gaussian_log_density(x[:, None], MEANS, var + s2) - exact[:, None])[..., None]
  proposal_mean = np.sum(weights * post_mean, axis=1)
  proposal_var = np.sum(weights * (post_var + post_mean**2), axis=1) - proposal_mean**2
  prior = MixturePrior(components=3).module(2)
  xs = jnp.asarray(x, jnp.float32)

  def log_likelihood_fn(z):  # [S, B, z] -> [S, B]
    return losses.diagonal_gaussian_log_density(xs, z, jnp.full_like(z, math.log(s2)))

  estimate = importance_weighted_log_likelihood(
    jax.random.key(0),
    jnp.asarray(proposal_mean, jnp.float32),
    jnp.asarray(np.log(2 * proposal_var), jnp.float32),
    log_likelihood_fn,
    num_samples=20_000,
    chunk_size=5000,
    log_prior_fn=lambda z: prior.apply(mixture_params(), z, method="log_prob"),
  )
  np.testing.assert_allclose(estimate, exact, atol=0.02)


def test_a_prior_without_components_cannot_cluster():
  config = hparams("vae", "mlp", data=TINY, latent_dim=2)
  model = get_family("vae").module(config)
  x = jnp.zeros((1, 2, 2, 1))
  # Shapes only: the error is raised while tracing.
  rngs = {"params": jax.random.key(0), "reparam": jax.random.key(1)}
  variables = jax.eval_shape(lambda: model.init(rngs, x, train=False))
  with pytest.raises(ValueError, match="cluster needs a prior with components.*prior is 'standard'"):
    jax.eval_shape(lambda v: model.apply(v, x, method="cluster"), variables)
  with pytest.raises(ValueError, match="sample_prior_components needs a prior with components"):
    jax.eval_shape(lambda v: model.apply(v, jax.random.key(0), 2, method="sample_prior_components"), variables)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["vae", "dvae"])
def test_train_and_evaluate_with_a_mixture_prior(family, tiny_config, shared_data, tmp_path):
  if family == "vae":  # the experiment config itself, shrunk further
    config = load_experiment("mnist_mixture_vae", "smoke")
    config.data.dir, config.num_devices = str(shared_data), 1
    config.data.train_limit, config.data.eval_limit, config.train.num_epochs = 128, 64, 1
    config.train.progress_bar, config.train.grid_images = False, 0
  else:
    config = tiny_config("dvae", "mlp", model__prior__name="mixture", model__prior__components=4, train__grid_images=0)
  train.train_and_evaluate(config, tmp_path)
  result = evaluate.evaluate_checkpoint(tmp_path)
  components = config.model.prior.components
  assert 0.0 < result["cluster_accuracy"] <= result["cluster_accuracy_many_to_one"] <= 1.0
  assert 1 <= result["cluster_components_used"] <= components
  assert np.isfinite(result["iw_nll_nats"]) and result["iw_nll_nats"] > 0
  assert np.isfinite(result["kl_nats"])
  variables = Experiment.variables(restore_run(tmp_path).state)
  prior_params = variables["params"]["prior"] if family == "vae" else variables["params"]["vae"]["prior"]
  assert prior_params["means"].shape == (components, config.model.latent_dim)
