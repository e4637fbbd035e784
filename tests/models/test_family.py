"""models/family.py: what every family offers: output shapes and dtypes on every network, reconstructions that are
probabilities, the registry's error, and the L2 scheme a family can take."""

import jax
import jax.numpy as jnp
import pytest

from dvae_jax.configs import ConfigError
from dvae_jax.models import ARCHITECTURES, FAMILIES, default_model_config, get_family
from dvae_jax.models.corruption import CORRUPTIONS
from tests.helpers import RNGS, hparams, init_model

GENERATIVE = sorted(name for name, family in FAMILIES.items() if family.generative)


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


def test_unknown_family_lists_the_valid_ones():
  with pytest.raises(ConfigError, match=r"unknown family 'gan'; expected one of \['ae', "):
    get_family("gan")
  assert sorted(CORRUPTIONS) == ["dropout", "gaussian", "masking", "none", "salt_and_pepper"]


def test_reference_l2_is_refused_for_a_family_without_reference_scopes():
  with pytest.raises(ConfigError, match="l2_scheme='reference'.*expected l2_scheme='single'"):
    hparams("ae", l2_scheme="reference")
