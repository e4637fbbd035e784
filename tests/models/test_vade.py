"""VaDE (models/vade.py): the responsibilities against a direct computation, the ELBO's analytic terms against
a Monte-Carlo estimate and against the authors' Keras expression, the pretrained weights' placement, and the
two stages (pretraining, then VaDE from its checkpoint and a GMM fit) through `dvae study run` and `report`."""

import io
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax import configs, workdir
from dvae_jax.configs import ConfigError
from dvae_jax.experiment import build_experiment
from dvae_jax.inference import restore_run
from dvae_jax.models import vade
from dvae_jax.study import load_study, report, runner
from tests.helpers import assert_trees_equal, hparams, init_model, study_process_environment

# A 3-component mixture in 2 dimensions.
MEANS = np.array([[-2.0, 0.0], [2.0, 1.0], [0.0, -2.0]])
LOG_SCALES = np.array([[0.0, -0.5], [-0.3, 0.2], [0.1, 0.0]])
WEIGHTS = np.array([0.2, 0.3, 0.5])
# One image's posterior q(z|x) = N(MEAN, diag exp(LOGVAR)).
MEAN = np.array([0.5, -0.3])
LOGVAR = np.array([-0.4, 0.3])


def mixture() -> dict:
  return {
    "means": jnp.asarray(MEANS, jnp.float32),
    "log_scales": jnp.asarray(LOG_SCALES, jnp.float32),
    "log_weights": jnp.asarray(np.log(WEIGHTS), jnp.float32),
  }


def normal_density(z: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> np.ndarray:
  """prod_j N(z_j; mean_j, variance_j), in float64, written out."""
  return np.prod(np.exp(-((z - mean) ** 2) / (2 * variance)) / np.sqrt(2 * np.pi * variance), axis=-1)


def direct_responsibilities(z: np.ndarray) -> np.ndarray:
  """gamma_c = pi_c N(z; mu_c, sigma_c^2) / sum_c' pi_c' N(z; mu_c', sigma_c'^2) [..., K], directly (no logs)."""
  joint = np.stack([WEIGHTS[c] * normal_density(z, MEANS[c], np.exp(2 * LOG_SCALES[c])) for c in range(3)], axis=-1)
  return joint / joint.sum(axis=-1, keepdims=True)


def test_responsibilities_match_a_direct_computation():
  z = np.array([[-2.0, 0.3], [1.5, 1.0], [0.0, 0.0], [0.4, -1.7]])
  log_gamma = vade.responsibilities(jnp.asarray(z, jnp.float32), mixture())
  np.testing.assert_allclose(np.exp(log_gamma), direct_responsibilities(z), atol=1e-6)
  # Far from every mean the direct ratio underflows (0 / 0); the log-space softmax still names the nearest.
  far = vade.responsibilities(jnp.asarray([[60.0, -60.0]]), mixture())
  assert np.all(np.isfinite(far)) and int(np.argmax(far)) == 2
  # Leading axes pass through: draws [S, B, z] -> [S, B, K].
  assert vade.responsibilities(jnp.zeros((5, 4, 2)), mixture()).shape == (5, 4, 3)


def test_the_elbo_terms_match_a_monte_carlo_estimate():
  """KL(q(z, c|x) || p(z, c)) with q(c|x) = gamma at a draw z: the closed-form expectations over z against the
  average of log q(z'|x) - sum_c gamma_c log p(z'|c) over 400,000 draws z' ~ q(z|x)."""
  z = np.array([[[0.9, -0.1]]])  # the draw that sets gamma [S=1, B=1, z]
  kl, entropy = vade.kl_divergence(
    jnp.asarray(MEAN[None], jnp.float32), jnp.asarray(LOGVAR[None], jnp.float32), jnp.asarray(z, jnp.float32), mixture()
  )
  gamma = direct_responsibilities(z[0, 0])
  draws = MEAN + np.exp(0.5 * LOGVAR) * np.random.default_rng(0).standard_normal((400_000, 2))
  log_q = np.log(normal_density(draws, MEAN, np.exp(LOGVAR)))
  log_p = np.stack([np.log(normal_density(draws, MEANS[c], np.exp(2 * LOG_SCALES[c]))) for c in range(3)], -1)
  monte_carlo = np.mean(log_q - log_p @ gamma) + np.sum(gamma * (np.log(gamma) - np.log(WEIGHTS)))
  standard_error = np.std(log_q - log_p @ gamma) / np.sqrt(len(draws))
  assert abs(float(kl[0]) - monte_carlo) < 4 * standard_error + 1e-5, (float(kl[0]), monte_carlo, standard_error)
  np.testing.assert_allclose(entropy, [-np.sum(gamma * np.log(gamma))], rtol=1e-5)


def test_the_elbo_equals_the_authors_keras_loss_less_its_constant():
  """The authors' vae_loss (VaDE.py, transcribed in numpy, gamma from the same draw) is ours plus
  latent_dim^2 log(2 pi) / 2: its per-dimension log 2 pi counted latent_dim times, its entropy without log 2 pi."""
  rng = np.random.default_rng(1)
  x = rng.uniform(size=(3, 6))
  logits = rng.normal(size=(1, 3, 6))
  mean, logvar = rng.normal(size=(3, 2)), rng.normal(size=(3, 2)) * 0.3
  z = mean + np.exp(0.5 * logvar) * rng.normal(size=(3, 2))
  outputs = {
    "logits": jnp.asarray(logits, jnp.float32).reshape(1, 3, 1, 6, 1),
    "mean": jnp.asarray(mean, jnp.float32),
    "logvar": jnp.asarray(logvar, jnp.float32),
    "z": jnp.asarray(z[None], jnp.float32),
    "mixture": mixture(),
  }
  config = vade.VaDEConfig(latent_dim=2, image_shape=(1, 6, 1), num_classes=10)
  terms, objective = vade.vade_terms(outputs, {"image": jnp.asarray(x, jnp.float32).reshape(3, 1, 6, 1)}, config)
  # The Keras loss, per image (Theano's [B, z, K] tensors as numpy broadcasting; theta = the weights).
  p = 1 / (1 + np.exp(-logits[0]))
  bce = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=-1)  # original_dim x the mean binary cross-entropy
  lam, u, theta, latent_dim = np.exp(2 * LOG_SCALES).T, MEANS.T, WEIGHTS, 2  # lambda, u [z, K]
  gamma = direct_responsibilities(z)  # [B, K]
  keras = (
    bce
    + np.sum(
      0.5
      * gamma[:, None, :]
      * (
        latent_dim * np.log(2 * np.pi)
        + np.log(lam)
        + np.exp(logvar)[..., None] / lam
        + (mean[..., None] - u) ** 2 / lam
      ),
      axis=(1, 2),
    )
    - 0.5 * np.sum(logvar + 1, axis=-1)
    - np.sum(np.log(theta) * gamma, axis=-1)
    + np.sum(np.log(gamma) * gamma, axis=-1)
  )
  np.testing.assert_allclose(terms["recon_nats"], bce, rtol=1e-5)
  np.testing.assert_allclose(objective + latent_dim**2 * math.log(2 * math.pi) / 2, keras, rtol=1e-5)
  np.testing.assert_allclose(terms["neg_elbo_nats"], objective, rtol=1e-6)


def test_the_prior_must_be_a_mixture():
  with pytest.raises(ConfigError, match=r"config\.model\.prior.*expected name='mixture'"):
    hparams("vade", "mlp", prior={"name": "standard"})


def test_the_pretrained_autoencoder_fills_the_trunk_the_mean_head_and_the_decoder():
  config = hparams("vade", "mlp", net={"fc_sizes": (16, 12)}, latent_dim=4)
  pretraining = hparams(
    "ae", "mlp", net={"fc_sizes": (16, 12, 4), "code_activation": "linear", "decoder_fc_sizes": (12, 16)}
  )
  _, _, variables = init_model(config, abstract=False)
  _, _, source = init_model(pretraining, abstract=False)
  params, source = jax.device_get(variables["params"]), jax.device_get(source["params"])
  loaded = vade.pretrained_params(params, source)
  assert_trees_equal(
    loaded["inference"]["trunk"], {"dense_0": source["encoder"]["dense_0"], "dense_1": source["encoder"]["dense_1"]}
  )
  assert_trees_equal(loaded["inference"]["mean"], source["encoder"]["dense_2"])
  assert_trees_equal(loaded["generator"], source["generator"])
  # What the autoencoder does not have stays: the log-variance head and the mixture.
  assert_trees_equal(loaded["inference"]["logvar"], params["inference"]["logvar"])
  assert_trees_equal(loaded["prior"], params["prior"])
  wider = hparams("ae", "mlp", net={"fc_sizes": (16, 12, 5), "code_activation": "linear", "decoder_fc_sizes": (12, 16)})
  with pytest.raises(ValueError, match=r"\['mean'\]\['kernel'\]: this model \(12, 4\), pretrained \(12, 5\)"):
    vade.pretrained_params(params, jax.device_get(init_model(wider, abstract=False)[2]["params"]))


def test_the_two_stages_run_and_report_as_a_study(shared_data, tmp_path, monkeypatch):
  """Pretraining, then VaDE from its checkpoint, through `dvae study run` (local processes); the VaDE run's
  mixture is the GMM fit of the pretrained codes, rerunning its start gives the same bits, and the report
  has the accuracy tables, the per-epoch curves and the samples per component."""
  study = load_study("vade:smoke")
  out = io.StringIO()
  with study_process_environment(monkeypatch, shared_data):
    assert runner.run_study(study, tmp_path / "runs", out=out) == 0, out.getvalue()
  pretrain_dir, vade_dir = (tmp_path / "runs" / "vade_smoke" / group / "seed0" for group in ("pretrain", "vade"))
  record = json.loads((vade_dir / "initialization.json").read_text())
  evaluation = json.loads((vade_dir / "eval_test.json").read_text())
  assert record["init_source_workdir"] == str(pretrain_dir) and record["init_gmm_codes"] == 256
  for key in ("cluster_accuracy", "cluster_accuracy_all", "cluster_nmi_all", "init_cluster_accuracy_all"):
    assert 0.0 < evaluation[key] <= 1.0, key
  assert evaluation["init_cluster_accuracy"] == record["init_cluster_accuracy"]

  # The start, again (twice, in this process): the same bits each time, the GMM fitted to the pretrained codes
  # (the mean head is the code layer), and the study's own start up to rounding (it ran on one device, this
  # process on the tests' four).
  monkeypatch.setenv("DVAE_DATA_DIR", str(shared_data))
  run = restore_run(vade_dir)
  first = workdir.initialized(run.experiment, run.experiment.init_state(), tmp_path)
  again = workdir.initialized(run.experiment, run.experiment.init_state(), tmp_path)
  assert_trees_equal(jax.device_get(first.params), jax.device_get(again.params))
  here = json.loads((tmp_path / workdir.INITIALIZATION).read_text())
  assert here.keys() == record.keys()
  for key, value in record.items():
    assert here[key] == (value if isinstance(value, str) else pytest.approx(value, rel=1e-4)), key
  pretrained = restore_run(pretrain_dir)
  images = pretrained.experiment.prepare(run.split("train").take(np.arange(256)))["image"]
  encoder = pretrained.experiment.model.apply
  codes = encoder({"params": pretrained.state.params}, images, method=lambda ae, x: ae.encoder(x, train=False))
  gmm = vade.fit_mixture(np.asarray(codes), 10, seed=0)
  np.testing.assert_allclose(first.params["prior"]["means"], gmm.means_, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(np.exp(2 * first.params["prior"]["log_scales"]), gmm.covariances_, rtol=1e-4)
  np.testing.assert_array_equal(first.params["prior"]["logits"], np.zeros(10))
  # A start from a run of another family is refused before anything is trained.
  config = configs.load_config(vade_dir)
  config.init_workdir = str(vade_dir)
  experiment = build_experiment(config)
  with pytest.raises(ConfigError, match="holds a 'vade' run; a 'vade' run starts from one of family 'ae'"):
    workdir.initialized(experiment, experiment.init_state(), tmp_path)

  report.write_report(study, tmp_path / "runs", tmp_path / "results", command="dvae study report (test)")
  text = (tmp_path / "results" / "README.md").read_text()
  assert "| vade: published |" in text and "0.9446" in text
  assert "## Accuracy per epoch" in text and (tmp_path / "results" / "curve_accuracy_per_epoch.png").exists()
  assert "figures_vade_seed0/prior_samples.png" in text
  assert (tmp_path / "results" / "figures_vade_seed0" / "prior_samples.png").exists()
