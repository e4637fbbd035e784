"""Shapes, parameter counts and the known-answer arithmetic of every model family."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax.configs import ConfigError
from dvae_jax.models import ARCHITECTURES, FAMILIES, default_model_config, get_family
from dvae_jax.models.corruption import CORRUPTIONS
from dvae_jax.models.dvae import dvae_terms
from dvae_jax.models.vae import reparameterize, vae_terms
from tests.helpers import RNGS, TINY, hparams, init_model

CIFAR_NETWORK = dict(conv_channels=(128, 64), fc_sizes=(512, 256))
GENERATIVE = sorted(name for name, family in FAMILIES.items() if family.generative)


def _count(tree) -> int:
  return sum(leaf.size for leaf in jax.tree.leaves(tree))


# Pinned against a hand count of docs/reference.md (e.g. MNIST encoder: conv 1664 + 102464,
# FC 1204608 + 73920, heads 9650 + 9650 + label 1930; decoder 9792 + 74112 + 1207360 + 102464 + 1601).
@pytest.mark.parametrize(
  "family,dims,expected",
  [
    ("vae", {}, 2_799_215),
    ("dvae", {}, 4_221_808),
    ("vae", {"cifar": True}, 7_067_157),  # encoder 2497554 + decoder 4569603
  ],
)
def test_reference_parameter_counts(family, dims, expected):
  if dims:
    config = hparams(family, net=CIFAR_NETWORK, data=dict(image_shape=(32, 32, 3), num_classes=10), latent_dim=100)
  else:
    config = hparams(family)
  _, _, variables = init_model(config)
  assert _count(variables["params"]) == expected
  # Batch norm has running statistics but no trainable scale/offset in the reference.
  assert not any("scale" in str(path) for path, _ in jax.tree_util.tree_leaves_with_path(variables["params"]))


def test_trainable_batch_norm_affine_is_a_switch():
  _, _, frozen = init_model(hparams("vae"))
  _, _, affine = init_model(hparams("vae", net=dict(bn_trainable_affine=True)))
  assert _count(affine["params"]) > _count(frozen["params"])


@pytest.mark.parametrize("family", GENERATIVE)
@pytest.mark.parametrize("network", sorted(name for name, a in ARCHITECTURES.items() if a.decoder is not None))
def test_output_shapes_and_dtypes(family, network):
  extra = dict(latent_dim=3, samples=2) if get_family(family).latent else {}
  if "sample_mode" in default_model_config(family):
    extra["sample_mode"] = "elbo"
  config = hparams(family, network, net=ARCHITECTURES[network].config.SMOKE, **extra)
  model, x, variables = init_model(config, batch=5)
  outputs, updates = jax.eval_shape(
    lambda v: model.apply(v, x, train=True, rngs={**RNGS, "dropout": RNGS["noise"]}, mutable=["batch_stats"]),
    variables,
  )
  # A family with several corruptions per image (the denoising VAE) has an axis of them before B.
  assert outputs["logits"].shape[-4:] == (5, 28, 28, 1) and outputs["logits"].dtype == jnp.float32
  if get_family(family).latent:
    assert outputs["mean"].shape[-2:] == outputs["logvar"].shape[-2:] == (5, 3)
    assert outputs["z"].shape[0] == 2 and outputs["z"].shape[-2:] == (5, 3)
  if family == "dvae":
    assert outputs["dae_logits"].shape == (2, 5, 28, 28, 1)
    assert outputs["generated_label_logits"].shape == (2, 5, 10)
  assert set(updates) == ({"batch_stats"} if "batch_stats" in variables else set())


@pytest.mark.parametrize("family", GENERATIVE)
def test_reconstructions_are_probabilities(family):
  config = hparams(
    family, "mlp", net=dict(fc_sizes=(16, 8)), **({"latent_dim": 3} if get_family(family).latent else {})
  )
  model, _, variables = init_model(config, abstract=False)
  x = jax.random.uniform(jax.random.key(3), (4, 28, 28, 1))
  recon = jax.jit(lambda v, x: model.apply(v, x, rngs=RNGS, method="reconstruct"))(variables, x)
  assert recon.shape == (4, 28, 28, 1) and float(recon.min()) >= 0.0 and float(recon.max()) <= 1.0


def test_dvae_shares_the_encoder_unless_told_not_to():
  _, _, shared = init_model(hparams("dvae"))
  _, _, separate = init_model(hparams("dvae", share_encoder=False))
  assert "dae_inference" not in shared["params"] and "dae_inference" in separate["params"]


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


def test_dvae_terms_add_the_dae_and_generated_label_terms():
  config = hparams("dvae", "mlp", data=dict(image_shape=(2, 2, 1), num_classes=2))
  outputs = {
    "logits": jnp.zeros((1, 1, 2, 2, 1)),
    "dae_logits": jnp.full((1, 1, 2, 2, 1), 100.0),  # confident "on": 100 nats per "off" pixel
    "mean": jnp.zeros((1, 2)),
    "logvar": jnp.zeros((1, 2)),
    "label_logits": jnp.array([[0.0, 0.0]]),
    "generated_label_logits": jnp.array([[[0.0, 0.0]]]),
  }
  batch = {"image": jnp.array([[[[1.0], [1.0]], [[0.0], [1.0]]]]), "label": jnp.array([0])}
  terms, objective = dvae_terms(outputs, batch, config)
  np.testing.assert_allclose(terms["dae_recon_nats"], [100.0], rtol=1e-5)
  assert terms["output_recon_nats"] is terms["dae_recon_nats"]
  np.testing.assert_allclose(objective, [4 * np.log(2) + 0 + 100.0 + 2 * np.log(2)], rtol=1e-5)


@pytest.mark.parametrize(
  "name,std",
  [("xavier_normal", np.sqrt(2 / (3136 + 384))), ("lecun_normal", np.sqrt(1 / 3136)), ("he_normal", np.sqrt(2 / 3136))],
)
def test_kernel_init_is_a_choice(name, std):
  """The encoder's 3136 -> 384 layer: each initializer's weight spread (biases stay zero)."""
  _, _, variables = init_model(hparams("vae", net=dict(kernel_init=name)), abstract=False)
  dense = variables["params"]["inference"]["trunk"]["dense_0"]
  np.testing.assert_allclose(np.std(dense["kernel"]), std, rtol=0.02)
  assert not np.any(dense["bias"])


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


def test_unknown_family_lists_the_valid_ones():
  with pytest.raises(ConfigError, match=r"unknown family 'gan'; expected one of \['ae', "):
    get_family("gan")
  assert sorted(CORRUPTIONS) == ["dropout", "gaussian", "masking", "none", "salt_and_pepper"]


@pytest.mark.parametrize(
  "old,new", [("reference_conv", "dojoteef_conv"), ("face_conv", "dcgan_conv"), ("seed003_conv", "dcgan_conv")]
)
def test_a_network_s_old_name_still_builds_it_with_a_warning(old, new):
  ARCHITECTURES._warned.discard(old)  # it warns once per name and process
  with pytest.warns(FutureWarning, match=f"{old!r} is now called {new!r}"):
    config = hparams("vae", old, data=dict(image_shape=(32, 32, 3), num_classes=10))
  assert config.network.name == new


def test_a_checkpoint_that_recorded_an_old_network_name_is_compatible(tmp_path):
  from dvae_jax.checkpoint import Checkpointer

  checkpointer = Checkpointer(tmp_path)
  checkpointer._read_meta = lambda step: {"identity": {"model.network.name": "reference_conv"}}
  expected = {"model.network.name": "dojoteef_conv"}
  assert checkpointer.check_compatible(1, expected, renamed=ARCHITECTURES.renamed)["identity"]
