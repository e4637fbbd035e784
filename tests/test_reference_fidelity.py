"""Known answers for the details of dojoteef/dvae that docs/reference.md describes and that
move its numbers: its L2 accounting, its batch-normalized label logits, both DVAE decoders' losses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax.configs import ConfigError
from dvae_jax.experiment import make_objective
from dvae_jax.models import get_family
from tests.helpers import RNGS, hparams, init_model

SMALL = dict(image_shape=(4, 4, 1), num_classes=3)
SMALL_NET = dict(conv_channels=(2, 2), fc_sizes=(5, 4), kernel_size=3)
WEIGHT_DECAY = 10.0  # large, so that the L2 part stands out of the float32 loss
BATCH = 6
# A distinct value for every scope of the reference's TF graph, keyed by the params-path prefix
# that holds it here (the longest matching prefix wins).
SCOPE_VALUES = {
  ("inference", "trunk"): 0.2,  # recognition (the encoder)
  ("inference", "label_head"): 0.2,  # recognition too: the label layer is the encoder stack's last
  ("inference", "mean"): 0.3,
  ("inference", "logvar"): 0.4,
  ("generator",): 0.1,
  ("dae_generator",): 0.5,
  ("trunk",): 0.2,  # the classifier
  ("label_head",): 0.2,
}


def _names(path) -> tuple[str, ...]:
  return tuple(str(getattr(k, "key", k)) for k in path)


def _scope(names: tuple[str, ...]) -> tuple[str, ...]:
  names = names[1:] if names[0] == "vae" else names  # the DVAE nests the VAE under "vae"
  return max((prefix for prefix in SCOPE_VALUES if names[: len(prefix)] == prefix), key=len)


def _regularized_sizes(params) -> dict[tuple[str, ...], int]:
  """Per scope, how many entries the reference's L2 covers: FC weights and biases, conv biases
  (every leaf of rank < 4 outside batch norm); counted from the shapes, independently of the code."""
  sizes: dict[tuple[str, ...], int] = {}
  for path, leaf in jax.tree_util.tree_leaves_with_path(params):
    names = _names(path)
    if leaf.ndim < 4 and not any(name.startswith("bn_") for name in names):
      sizes[_scope(names)] = sizes.get(_scope(names), 0) + leaf.size
  return sizes


def _objective_and_terms(family: str, **model):
  config = hparams(family, "dojoteef_conv", net=SMALL_NET, data=SMALL, weight_decay=WEIGHT_DECAY, **model)
  module, x, variables = init_model(config, BATCH, abstract=False)
  # Every parameter of a scope set to that scope's value: each R_scope is then known in closed form.
  params = jax.tree_util.tree_map_with_path(
    lambda path, leaf: jnp.full_like(leaf, SCOPE_VALUES[_scope(_names(path))]), variables["params"]
  )
  model_state = {k: v for k, v in variables.items() if k != "params"}
  batch = {"image": jax.random.uniform(jax.random.key(3), x.shape), "label": jnp.arange(BATCH) % 3}
  objective = make_objective(get_family(family), module, config, batch_reduction="sum")
  loss, (metrics, _) = objective(params, model_state, batch, jax.random.key(4), train=True)
  r = {
    scope: WEIGHT_DECAY * 0.5 * size * SCOPE_VALUES[scope] ** 2 for scope, size in _regularized_sizes(params).items()
  }
  return float(loss), metrics, r


@pytest.mark.parametrize(
  "family,expected",
  [
    # VAE = B (R_mean + R_logvar + 2 R_gen + 2 R_enc)
    (
      "vae",
      lambda r: (
        r["inference", "mean"]
        + r["inference", "logvar"]
        + 2 * r["generator",]
        + 2 * (r["inference", "trunk"] + r["inference", "label_head"])
      ),
    ),
    # DVAE = B (R_mean + R_logvar + 3 R_enc + 2 R_gen + 2 R_daegen)
    (
      "dvae",
      lambda r: (
        r["inference", "mean"]
        + r["inference", "logvar"]
        + 3 * (r["inference", "trunk"] + r["inference", "label_head"])
        + 2 * r["generator",]
        + 2 * r["dae_generator",]
      ),
    ),
    ("classifier", lambda r: r["trunk",] + r["label_head",]),  # classifier = B R
  ],
)
def test_reference_l2_counts_each_scope_once_per_image_per_loss_term(family, expected):
  loss, metrics, r = _objective_and_terms(family)
  per_image = expected(r)
  assert float(metrics["l2"]) == pytest.approx(per_image, rel=1e-6)
  data_term = float(jnp.sum(metrics["objective_nats"]))
  assert BATCH * per_image > 0.05 * data_term  # large enough to be seen in the float32 loss
  assert loss - data_term == pytest.approx(BATCH * per_image, rel=1e-4)


def test_single_l2_is_one_weight_decay_term_on_the_batch_sum():
  loss, metrics, r = _objective_and_terms("vae", l2_scheme="single")
  assert loss - float(jnp.sum(metrics["objective_nats"])) == pytest.approx(sum(r.values()), rel=1e-4)
  assert float(metrics["l2"]) == pytest.approx(sum(r.values()) / BATCH, rel=1e-6)


def test_dvae_reports_both_decoders_test_loss_with_their_own_l2_once():
  _, metrics, r = _objective_and_terms("dvae")
  assert float(metrics["reference_l2_vae_decoder"]) == pytest.approx(r["generator",], rel=1e-6)
  assert float(metrics["reference_l2_dae_decoder"]) == pytest.approx(r["dae_generator",], rel=1e-6)
  np.testing.assert_allclose(metrics["reference_loss_vae_decoder"], metrics["recon_nats"] + r["generator",], rtol=1e-6)
  np.testing.assert_allclose(
    metrics["reference_loss_dae_decoder"], metrics["dae_recon_nats"] + r["dae_generator",], rtol=1e-6
  )
  # The model's output is the DAE's: the headline reference loss is its decoder's.
  np.testing.assert_array_equal(metrics["reference_loss"], metrics["reference_loss_dae_decoder"])


def test_reference_l2_is_refused_for_a_family_without_reference_scopes():
  with pytest.raises(ConfigError, match="l2_scheme='reference'.*expected l2_scheme='single'"):
    hparams("ae", l2_scheme="reference")


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


def test_importance_weighted_proposal_of_average_z_is_the_decoded_posterior():
  """k = 1 importance sample of an "average_z" model with samples 4: z = mean + (sigma / 2) eps, and
  the weight is log p(x|z) + log N(z; 0, I) - log N(z; mean, sigma^2 / 4), computed here in numpy."""
  from dvae_jax.evaluate import log_marginal_estimate

  config = hparams(
    "vae",
    "mlp",
    net=dict(fc_sizes=(8,)),
    data=dict(image_shape=(2, 2, 1), num_classes=2),
    latent_dim=3,
    samples=4,
    sample_mode="average_z",
    label_head=False,
  )
  module, x, variables = init_model(config, 2, abstract=False)
  x = jnp.array([[[[0.0], [1.0]], [[1.0], [0.0]]], [[[1.0], [1.0]], [[0.0], [1.0]]]])
  key = jax.random.key(11)
  got = log_marginal_estimate(module, variables, config, x, key, num_samples=1, chunk_size=1)
  mean, logvar = (np.asarray(a, np.float64) for a in module.apply(variables, x, method="encode"))
  eps = np.asarray(jax.random.normal(jax.random.fold_in(key, 0), (1, *mean.shape)), np.float64)
  var = np.exp(logvar) / 4
  z = mean + np.sqrt(var) * eps  # [1, B, z]
  logits = np.asarray(module.apply(variables, jnp.asarray(z, jnp.float32), method="output_logits"), np.float64)
  xs = np.asarray(x, np.float64)[None]
  log_px_z = np.sum(xs * -np.logaddexp(0, -logits) + (1 - xs) * -np.logaddexp(0, logits), axis=(2, 3, 4))
  log_p = np.sum(-0.5 * (z**2 + np.log(2 * np.pi)), axis=-1)
  log_q = np.sum(-0.5 * ((z - mean) ** 2 / var + np.log(2 * np.pi * var)), axis=-1)
  np.testing.assert_allclose(np.asarray(got), (log_px_z + log_p - log_q)[0], rtol=1e-5, atol=1e-4)
