"""experiment.py: an experiment built from a config: a step on a host batch, the training split kept on the
devices (trained as the host batches, bit for bit), the objective's L2 (the reference's accounting: each scope
once per image per loss term), and the configs it refuses to build."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax import configs
from dvae_jax.data import Batch, train_batches
from dvae_jax.experiment import build_experiment, make_objective
from dvae_jax.models import get_family
from tests.helpers import hparams, init_model


def test_a_step_on_a_host_batch(experiment):
  state = experiment.init_state()
  state, metrics = experiment.train_step(state, experiment.device_batch("train", np.arange(16)[None]))
  assert int(state.step) == 1 and metrics["loss"].shape == (1,) and np.isfinite(metrics["loss"]).all()
  sums, count = experiment.eval_step(state, experiment.device_batch("valid", np.arange(32)), jax.random.key(0))
  assert float(count) == 32 and np.isfinite(float(sums["neg_elbo_nats"]))
  images = experiment.splits.test.take(np.arange(4))
  with pytest.raises(KeyError, match="needs the keys 'image', 'label' and 'id'"):
    experiment.prepare({"image": images["image"], "label": images["label"]})


def _first_chunks(experiment, count: int = 2) -> list[Batch]:
  """The rows of the first `count` dispatches of two steps, as `dvae train` makes them."""
  chunks = train_batches(
    experiment.splits.train, key=experiment.keys["data"], epoch=0, batch_size=16, start_step=0, steps_per_dispatch=2
  )
  return [rows for _, rows in itertools.islice(chunks, count)]


@pytest.mark.parametrize("num_devices", [1, 4])
def test_rows_trained_on_the_device_train_as_the_host_batches(tiny_config, num_devices):
  """data.on_device: train_step on rows not yet gathered (what `dvae train` passes) gathers them
  inside the step from the split on the devices, or else on the host; the states after two
  dispatches of two steps equal each other's, and those of the built batches, bit for bit."""
  final = {}
  for on_device in (True, False):
    config = tiny_config(family="vae", num_devices=num_devices, data__binarize="static", data__on_device=on_device)
    experiment = build_experiment(config)
    assert (experiment.train_on_device is not None) == on_device
    for form in ("rows", "built"):
      state = experiment.init_state()
      for rows in _first_chunks(experiment):
        batch = rows if form == "rows" else experiment.device_batch("train", rows.index)
        state, _ = experiment.train_step(state, batch)
      final[on_device, form] = jax.device_get(state)
    assert experiment.traces["train"] == 1 + on_device  # on the device, rows and built batches: two programs
  for key in ((True, "built"), (False, "rows"), (False, "built")):
    for expected, actual in zip(jax.tree.leaves(final[True, "rows"]), jax.tree.leaves(final[key]), strict=True):
      np.testing.assert_array_equal(expected, actual)


def test_auto_keeps_the_training_split_on_the_device_when_it_fits(experiment, monkeypatch):
  from dvae_jax import experiment as experiment_module
  from dvae_jax import parallel

  split = experiment.splits.train
  assert experiment.train_on_device is not None  # tiny_config: "auto", a few kilobytes
  assert experiment_module.keep_on_device("auto", split, experiment.mesh)
  monkeypatch.setattr(parallel, "device_memory_bytes", lambda mesh: 4 * split.input_bytes - 1)
  assert not experiment_module.keep_on_device("auto", split, experiment.mesh)
  assert experiment_module.keep_on_device(True, split, experiment.mesh)


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


def test_image_shape_must_fit_the_conv_decoder(tiny_config):
  config = tiny_config(model__network__conv_channels=(8, 8, 8))  # 28 is not divisible by 2**3
  with pytest.raises(configs.ConfigError, match=r"must be divisible by 8\); change config.model.network"):
    build_experiment(config)


def test_more_devices_than_visible(tiny_config):
  with pytest.raises(configs.ConfigError, match="config.num_devices=64 but only"):
    build_experiment(tiny_config(num_devices=64))
