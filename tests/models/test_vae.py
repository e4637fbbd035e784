"""models/vae.py: the reparameterization's draws, the VAE's terms against known answers (the "average_z" ELBO
included), its label head (batch-normalized logits, as the reference's), its posterior heads (the softplus scale
against fixed numbers), and a network it cannot decode with."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax.configs import ConfigError
from dvae_jax.models import ARCHITECTURES, get_family, model_config
from dvae_jax.models.vae import reparameterize, softplus_logvar, vae_terms
from tests.helpers import RNGS, TINY, hparams, init_model

TINY_MLP = dict(fc_sizes=(16,))


def test_average_z_draws_have_variance_one_over_k():
  mean, logvar = jnp.zeros((20_000, 1)), jnp.zeros((20_000, 1))
  z = reparameterize(jax.random.key(0), mean, logvar, samples=5, mode="average_z")
  assert z.shape == (1, 20_000, 1)
  np.testing.assert_allclose(jnp.var(z), 1 / 5, rtol=0.05)
  z = reparameterize(jax.random.key(0), mean, logvar, samples=5, mode="elbo")
  assert z.shape == (5, 20_000, 1)
  np.testing.assert_allclose(jnp.var(z), 1.0, rtol=0.05)


def test_vae_terms_known_answer():
  """A fake model with fixed outputs: zero logits, a known posterior, a known label head."""
  config = hparams("vae", "mlp", data=dict(image_shape=(2, 2, 1), num_classes=2), label_loss_weight=0.5)
  outputs = {
    "logits": jnp.zeros((1, 1, 2, 2, 1)),
    "mean": jnp.array([[1.0, 0.0]]),
    "logvar": jnp.zeros((1, 2)),
    "label_logits": jnp.array([[0.0, 0.0]]),
  }
  batch = {"image": jnp.full((1, 2, 2, 1), 0.25), "label": jnp.array([1])}
  terms, objective = vae_terms(outputs, batch, config)
  recon, kl, ce = 4 * np.log(2), 0.5, np.log(2)  # 4 pixels at log 2; KL = mu^2 / 2; uniform 2-way CE
  np.testing.assert_allclose(terms["recon_nats"], [recon], rtol=1e-6)
  np.testing.assert_allclose(terms["kl_nats"], [kl], rtol=1e-6)
  np.testing.assert_allclose(terms["label_ce_nats"], [ce], rtol=1e-6)
  np.testing.assert_allclose(objective, [recon + kl + 0.5 * ce], rtol=1e-6)


def test_average_z_elbo_charges_the_kl_of_the_decoded_posterior():
  """samples = k in "average_z" mode decodes z ~ N(mu, sigma^2 / k): the reference's KLD is charged
  for sigma^2, the ELBO for sigma^2 / k (docs/reference.md)."""
  mean, logvar = np.array([[0.5, -1.0, 2.0]]), np.array([[0.3, -0.7, 1.2]])
  outputs = {"logits": jnp.zeros((1, 1, 2, 2, 1)), "mean": jnp.asarray(mean), "logvar": jnp.asarray(logvar)}
  batch = {"image": jnp.full((1, 2, 2, 1), 0.25), "label": jnp.array([0])}

  def numpy_kl(mean, var):
    return 0.5 * np.sum(var + mean**2 - 1 - np.log(var))

  for k, mode in ((1, "average_z"), (5, "average_z"), (5, "elbo")):
    config = hparams("vae", "mlp", data=TINY, label_head=False, samples=k, sample_mode=mode)
    terms, objective = vae_terms(outputs, batch, config)
    decoded_var = np.exp(logvar) / (k if mode == "average_z" else 1)
    np.testing.assert_allclose(terms["kl_nats"], [numpy_kl(mean, np.exp(logvar))], rtol=1e-6)
    np.testing.assert_allclose(terms["elbo_kl_nats"], [numpy_kl(mean, decoded_var)], rtol=1e-6)
    np.testing.assert_allclose(terms["neg_elbo_nats"], terms["recon_nats"] + terms["elbo_kl_nats"], rtol=1e-6)
    np.testing.assert_allclose(objective, terms["recon_nats"] + terms["kl_nats"], rtol=1e-6)  # training unchanged
  # The gap is 1/2 sum_j (ln k - sigma_j^2 (1 - 1/k)) for k = 5.
  gap = 0.5 * np.sum(np.log(5) - np.exp(logvar) * (1 - 1 / 5))
  terms, _ = vae_terms(outputs, batch, hparams("vae", "mlp", data=TINY, label_head=False, samples=5))
  np.testing.assert_allclose(terms["elbo_kl_nats"] - terms["kl_nats"], [gap], rtol=1e-5)


@pytest.mark.parametrize("family,prefix", [("vae", ("inference",)), ("classifier", ())])
def test_label_logits_are_batch_normalized_with_fixed_scale_and_offset(family, prefix):
  config = hparams(family)
  module, x, variables = init_model(config, 8, abstract=False)
  params, stats = variables["params"], variables["batch_stats"]
  for name in prefix:
    params, stats = params[name], stats[name]
  assert set(params["label_head"]) == {"kernel", "bias"} and "bn_label_head" not in params  # no scale / offset
  assert {k: v.shape for k, v in stats["bn_label_head"].items()} == {"mean": (10,), "var": (10,)}
  # In train mode the logits are normalized over the batch: per class mean 0 and variance
  # var / (var + eps) (eps = 1e-3), i.e. about 1.
  images = jax.random.uniform(jax.random.key(5), (8, *config.image_shape))
  out, _ = module.apply(variables, images, train=True, rngs=RNGS, mutable=["batch_stats"])
  logits = np.asarray(out["label_logits"], np.float64)
  np.testing.assert_allclose(logits.mean(axis=0), 0.0, atol=1e-5)
  assert np.all(logits.var(axis=0) > 0.9) and np.all(logits.var(axis=0) <= 1.0 + 1e-5)


def test_plain_label_head_is_a_switch():
  _, _, variables = init_model(hparams("vae", label_batch_norm=False))
  assert "bn_label_head" not in variables["batch_stats"]["inference"]


def test_a_vae_refuses_a_network_without_decoder():
  with pytest.raises(ConfigError, match="config.model.network=.* the 'conv_discriminator' network has no decoder"):
    model_config({"family": "vae", "network": {"name": "conv_discriminator"}}, image_shape=(28, 28, 1), num_classes=10)


@pytest.mark.parametrize("train_mode", [True, False])
def test_the_originals_posterior_head_gives_mean_at_least_0_and_sigma_at_least_1(train_mode):
  """model.posterior_head="dense_bn_relu": the original conv VAE's Dense -> BatchNorm -> ReLU, on random inputs,
  with batch statistics (training) and with running averages (evaluation)."""
  config = hparams(
    "vae_gan",
    "face_dcgan",
    net=dict(ARCHITECTURES["face_dcgan"].config.SMOKE),
    data=dict(image_shape=(32, 32, 3), num_classes=1),
    latent_dim=16,
    posterior_head="dense_bn_relu",
  )
  model, _, variables = init_model(config, 8, abstract=False)
  images = jax.random.uniform(jax.random.key(3), (8, 32, 32, 3), minval=-1.0, maxval=2.0)
  if train_mode:
    out, _ = model.apply(variables, images, train=True, rngs=RNGS, mutable=["batch_stats"])
    mean, logvar = out["mean"], out["logvar"]
  else:
    mean, logvar = model.apply(variables, images, method="encode")
  sigma = jnp.exp(0.5 * logvar)
  assert float(jnp.min(mean)) >= 0.0 and float(jnp.min(sigma)) >= 1.0
  assert bool(jnp.any(mean == 0.0)) and bool(jnp.any(sigma == 1.0))  # the ReLU clips: the bounds are reached
  assert set(variables["params"]["inference"]["bn_mean"]) == {"scale", "bias"}
  assert set(variables["batch_stats"]["inference"]["bn_logvar"]) == {"mean", "var"}


def test_softplus_logvar_on_fixed_numbers():
  h = np.array([-200.0, -30.0, -20.5, -20.0, -3.0, 0.0, 1.0, 30.0])
  expected = 2 * np.log(np.log1p(np.exp(h)))  # float64
  np.testing.assert_allclose(softplus_logvar(jnp.asarray(h, jnp.float32)), expected, rtol=1e-6)
  grads = jax.grad(lambda h: jnp.sum(softplus_logvar(h)))(jnp.asarray(h, jnp.float32))
  sigmoid = 1 / (1 + np.exp(-h))
  np.testing.assert_allclose(grads, 2 * sigmoid / np.log1p(np.exp(h)), rtol=1e-5)


def test_posterior_scale_softplus_and_the_reference_params():
  x = jax.random.uniform(jax.random.key(3), (2, 28, 28, 1))
  reference = hparams("vae")
  model = get_family("vae").module(reference)
  shapes = jax.eval_shape(lambda x: model.init(RNGS, x, train=False), x)
  # The reference VAE's parameters keep the names they had before the field existed.
  assert sorted(shapes["params"]["inference"]) == ["label_head", "logvar", "mean", "trunk"]
  _, logvar = _init(hparams("vae", "mlp", net=TINY_MLP), x)
  model, softplus = _init(hparams("vae", "mlp", net=TINY_MLP, posterior_scale="softplus"), x)
  heads = softplus["params"]["inference"]
  assert sorted(heads) == ["label_head", "mean", "scale", "trunk"]
  # Every parameter the two share is the same: the field only swaps what the scale head means.
  for name in ("label_head", "mean", "trunk"):
    jax.tree.map(np.testing.assert_array_equal, heads[name], logvar["params"]["inference"][name])
  jax.tree.map(np.testing.assert_array_equal, softplus["params"]["generator"], logvar["params"]["generator"])
  posterior = model.apply(softplus, x, train=False, method=lambda m, x, train: m.inference(x, train=train))
  h = np.asarray(posterior["features"] @ heads["scale"]["kernel"] + heads["scale"]["bias"], np.float64)
  np.testing.assert_allclose(posterior["logvar"], 2 * np.log(np.log1p(np.exp(h))), rtol=1e-5)


def _init(config, x):
  """The model of `config` and its variables, initialized on `x` (not only their shapes)."""
  model = get_family(config.family).module(config)
  return model, model.init(RNGS, x, train=False)
