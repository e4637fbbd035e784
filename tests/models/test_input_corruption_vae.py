"""models/input_corruption_vae.py: Im et al.'s input-corruption denoising VAE (the `input_corruption_vae` family):
its M corruptions and K draws, its generative model (the VAE's), its config, its bound against a known answer, and
its name of dvae-jax 0.1 and 0.2."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax import configs
from dvae_jax.configs import load_experiment
from dvae_jax.models import get_family
from dvae_jax.models.input_corruption_vae import input_corruption_vae_terms
from tests.helpers import TINY, hparams

RNGS = {"params": jax.random.key(0), "reparam": jax.random.key(1), "noise": jax.random.key(2)}
TINY_MLP = dict(fc_sizes=(16,))


def init_model(config, x):
  model = get_family(config.family).module(config)
  return model, model.init(RNGS, x, train=False)


def test_shapes_and_independent_corruptions():
  config = hparams("input_corruption_vae", "mlp", net=TINY_MLP, latent_dim=4, samples=2, corruption_samples=3)
  x = jax.random.uniform(jax.random.key(3), (5, 28, 28, 1))
  model, variables = init_model(config, x)
  outputs = model.apply(variables, x, train=True, rngs=RNGS)
  assert outputs["noisy"].shape == (3, 5, 28, 28, 1)
  assert outputs["mean"].shape == outputs["logvar"].shape == (3, 5, 4)
  assert outputs["z"].shape == (2, 3, 5, 4)
  assert outputs["logits"].shape == (2, 3, 5, 28, 28, 1)
  noise = np.asarray(outputs["noisy"] - x[None])
  assert 0.02 < noise.std() < 0.03  # the default corruption: Gaussian, std 0.025, not clipped
  assert not np.allclose(noise[0], noise[1])  # M independent corruptions
  # The M corrupted inputs give M different posteriors; `encode` is q(z|x) of the clean x.
  assert not np.allclose(outputs["mean"][0], outputs["mean"][1])
  mean, _ = model.apply(variables, x, method="encode")
  assert not np.allclose(mean, outputs["mean"][0])


def test_it_has_the_vae_generative_model():
  """Same parameters as a VAE of the same fields; the same q(z|x) and p(x|z) given them."""
  denoising = hparams("input_corruption_vae", "mlp", net=TINY_MLP, latent_dim=4)
  vae = hparams("vae", "mlp", net=TINY_MLP, latent_dim=4, label_head=False)
  x = jax.random.uniform(jax.random.key(3), (2, 28, 28, 1))
  model, variables = init_model(denoising, x)
  vae_model, vae_variables = init_model(vae, x)
  assert jax.tree.structure(variables) == jax.tree.structure(vae_variables)
  for method in ("encode", "output_logits", "log_prior"):
    args = (x,) if method == "encode" else (jnp.ones((3, 2, 4)),)
    jax.tree.map(
      np.testing.assert_array_equal,
      model.apply(variables, *args, method=method),
      vae_model.apply(variables, *args, method=method),
    )
  assert get_family("input_corruption_vae").denoising and get_family("input_corruption_vae").latent


def test_its_config_has_no_unread_keys():
  with pytest.raises(configs.ConfigError, match=r"a key \['sample_mode'\] that InputCorruptionVAEConfig does not read"):
    hparams("input_corruption_vae", "mlp", sample_mode="elbo")
  with pytest.raises(configs.ConfigError, match=r"corruption_samples=0 is not valid"):
    hparams("input_corruption_vae", "mlp", corruption_samples=0)
  config = hparams("input_corruption_vae", "mlp", corruption={"name": "salt_and_pepper", "rate": 0.2})
  assert config.corruption.rate == 0.2


def _bernoulli_nll(logits: np.ndarray, x: np.ndarray) -> float:
  """-log p(x | logits) by hand: -log sigmoid(logit) per pixel that is 1, -log(1 - sigmoid(logit)) per 0."""
  p = 1.0 / (1.0 + np.exp(-logits))
  return float(-np.sum(x * np.log(p) + (1 - x) * np.log(1 - p)))


def test_denoising_bound_known_answer():
  """M = 2 corruptions, K = 3 draws, fixed fake outputs; the target is the CLEAN x."""
  config = hparams("input_corruption_vae", "mlp", data=TINY, samples=3, corruption_samples=2)
  clean = np.array([1.0, 0.0, 1.0, 1.0])
  noisy = 1.0 - clean  # if the noisy input were the target, the reconstruction term would differ
  logits = np.array(  # [K, M, pixels]
    [
      [[2.0, -1.0, 0.5, 1.5], [0.0, 0.0, 1.0, -0.5]],
      [[-1.0, 2.0, 3.0, 0.5], [1.0, -2.0, 0.0, 2.0]],
      [[0.5, 0.5, -1.5, 1.0], [3.0, -3.0, 2.0, 0.0]],
    ]
  )
  mean = np.array([[1.0, 0.0], [0.0, 2.0]])  # [M, z]
  logvar = np.array([[0.0, np.log(2.0)], [-1.0, 0.0]])
  outputs = {
    "noisy": jnp.broadcast_to(jnp.asarray(noisy).reshape(1, 1, 2, 2, 1), (2, 1, 2, 2, 1)),
    "logits": jnp.asarray(logits, jnp.float32).reshape(3, 2, 1, 2, 2, 1),
    "mean": jnp.asarray(mean, jnp.float32)[:, None],  # [M, B=1, z]
    "logvar": jnp.asarray(logvar, jnp.float32)[:, None],
    "z": jnp.zeros((3, 2, 1, 2)),
  }
  batch = {"image": jnp.asarray(clean, jnp.float32).reshape(1, 2, 2, 1), "label": jnp.array([0])}
  terms, objective = input_corruption_vae_terms(outputs, batch, config)

  recon = np.mean([_bernoulli_nll(draw, clean) for draw in logits.reshape(6, 4)])  # mean over K and M
  kl = np.mean(0.5 * np.sum(np.exp(logvar) + mean**2 - 1 - logvar, axis=-1))  # mean over M of each KL
  np.testing.assert_allclose(terms["recon_nats"], [recon], rtol=1e-6)
  np.testing.assert_allclose(terms["kl_nats"], [kl], rtol=1e-6)
  np.testing.assert_allclose(objective, [recon + kl], rtol=1e-6)
  np.testing.assert_allclose(terms["output_neg_elbo_nats"], [recon + kl], rtol=1e-6)
  assert abs(np.mean([_bernoulli_nll(draw, noisy) for draw in logits.reshape(6, 4)]) - recon) > 1.0

  # A prior with parameters: the KL is the Monte-Carlo mean over K and M of log q(z|x~_m) - log p(z).
  z = np.arange(12, dtype=np.float64).reshape(3, 2, 2) / 10  # [K, M, z]
  log_prior = np.array([[-1.0, -2.0], [-3.0, -0.5], [-1.5, -2.5]])  # [K, M]
  outputs.update(z=jnp.asarray(z, jnp.float32)[:, :, None], log_prior=jnp.asarray(log_prior, jnp.float32)[:, :, None])
  terms, objective = input_corruption_vae_terms(outputs, batch, config)
  log_q = -0.5 * np.sum((z - mean) ** 2 / np.exp(logvar) + logvar + np.log(2 * np.pi), axis=-1)  # [K, M]
  np.testing.assert_allclose(terms["kl_nats"], [np.mean(log_q - log_prior)], rtol=1e-6)
  np.testing.assert_allclose(objective, [recon + np.mean(log_q - log_prior)], rtol=1e-6)


def test_the_family_s_old_name_is_accepted_with_a_warning_and_is_the_same_run(tmp_path):
  """`denoising_vae`, its name in dvae-jax 0.1 and 0.2: a config or a run's config.json that says it builds the
  same model, and has the same identity (a resume and a study's provenance compare it) as one that says the new."""
  from dvae_jax.models import FAMILIES

  FAMILIES._warned.discard("denoising_vae")
  with pytest.warns(FutureWarning, match="'denoising_vae' is now called 'input_corruption_vae'"):
    old = hparams("denoising_vae", "mlp", net=TINY_MLP, latent_dim=4)
  assert old == hparams("input_corruption_vae", "mlp", net=TINY_MLP, latent_dim=4)
  config = load_experiment("mnist_binarized_denoising_vae", "smoke")
  configs.write_config(config, tmp_path)
  saved = (tmp_path / "config.json").read_text()
  (tmp_path / "config.json").write_text(saved.replace('"input_corruption_vae"', '"denoising_vae"'))
  recorded = configs.load_config(tmp_path)
  assert recorded.model.family == "denoising_vae"  # read as the run wrote it
  assert configs.identity(recorded.to_dict()) == configs.identity(config.to_dict())
