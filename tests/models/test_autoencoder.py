"""models/autoencoder.py: the autoencoder family of arunarn2/AutoEncoder and Hands-On ML on a fake model's fixed
outputs: reconstruction metrics against the clean image, sparsity penalties, code activity, and the linear
output under MSE (a Gaussian likelihood with an identity mean, which every family that composes the
likelihood reconstructs as it is); and the autoencoder experiments' settings and a smoke training of each."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax import evaluate, train
from dvae_jax.configs import ConfigError, load_experiment
from dvae_jax.inference import restore_run
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


@pytest.mark.parametrize("family", ["ae", "vae", "denoising_vae", "dvae"])
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
    output = outputs["dae_logits" if family == "dvae" else "logits"][(0, 0) if family == "denoising_vae" else 0]
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


# --- every experiment config trains ---------------------------------------------------------------

EXPERIMENTS = {
  "mnist_conv_ae": ("handson_conv", None, "none"),
  "mnist_conv_dae": ("arunarn2_conv", "gaussian", "none"),
  "mnist_mlp_dae_gaussian": ("mlp", "gaussian", "none"),
  "mnist_mlp_dae_dropout": ("mlp", "dropout", "none"),
  "mnist_sparse_ae_l1": ("mlp", None, "l1"),
  "mnist_sparse_ae_kl": ("mlp", None, "kl"),
}

# Hands-On ML's autoencoders end in a linear layer trained with MSE; arunarn2/AutoEncoder's in a sigmoid with BCE.
HANDS_ON = {name for name in EXPERIMENTS if name != "mnist_conv_dae"}


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_hands_on_experiments_have_a_linear_output_under_mse(name):
  model = load_experiment(name).model
  if name in HANDS_ON:
    assert (model.likelihood, model.gaussian_mean, model.gaussian_log_std) == ("gaussian", "identity", 0.0)
  else:
    assert (model.likelihood, model.gaussian_mean) == ("bernoulli", "sigmoid")


def test_sparsity_weights_keep_the_original_balance_with_the_mse():
  """SSE / 2 per image is 392 x Keras's per-pixel MSE, so the penalties scale by 392 (the KL's also by
  tf.keras's 1 / batch size)."""
  l1, kl = load_experiment("mnist_sparse_ae_l1"), load_experiment("mnist_sparse_ae_kl")
  assert l1.model.sparsity.weight == pytest.approx(784 / 2 * 1e-4)
  assert kl.model.sparsity.weight == pytest.approx(784 / 2 * 5e-3 / kl.train.batch_size)
  assert kl.train.batch_size == 32 and kl.model.sparsity.target == 0.1


def test_conv_dae_learning_rates():
  """arunarn2/AutoEncoder's Adam 1e-5 by default, 1e-3 as `fast`; both combine with the generic variants."""
  assert load_experiment("mnist_conv_dae").optim.learning_rate == 1e-5
  assert load_experiment("mnist_conv_dae", "fast").optim.learning_rate == 1e-3
  assert load_experiment("mnist_conv_dae", "cpu").optim.learning_rate == 1e-5
  assert load_experiment("mnist_conv_dae", "fast,cpu").optim.learning_rate == 1e-3
  smoke = load_experiment("mnist_conv_dae", "smoke")
  assert smoke.optim.learning_rate == 1e-3 and smoke.data.train_limit == 512  # every smoke run trains at 1e-3
  assert load_experiment("mnist_conv_dae", "fast,smoke").to_dict() == smoke.to_dict()
  with pytest.raises(ConfigError, match=r"expected names from \['fast'\] and at most one of \['smoke', 'cpu'\]"):
    load_experiment("mnist_conv_dae", "slow")


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_experiment_smoke_trains(name, shared_data, tmp_path):
  network, corruption, sparsity = EXPERIMENTS[name]
  config = load_experiment(name, "smoke")
  assert config.model.network.name == network and config.model.sparsity.name == sparsity
  assert config.model.gaussian_mean == ("identity" if name in HANDS_ON else "sigmoid")
  assert config.data.invert is False and config.data.binarize == "none" and config.optim.schedule == "constant"
  config.data.dir = str(shared_data)
  config.data.train_limit, config.data.eval_limit = 64, 32
  config.train.num_epochs, config.train.progress_bar, config.num_devices = 1, False, 1
  config.train.grid_images = 0  # one compilation less; test_train covers the grid
  valid = train.train_and_evaluate(config, tmp_path)
  assert all(np.isfinite(value) for value in valid.values())
  assert valid["recon_mse"] > 0 and valid["psnr_db"] > 0
  assert ("noisy_psnr_db" in valid) == (corruption is not None)
  if sparsity != "none":
    assert valid["sparsity_penalty"] > 0 and 0 < valid["code_mean_activation"] < 1  # a sigmoid code
  if name == "mnist_mlp_dae_dropout":  # `dvae evaluate` reports the same per-image metrics on the test split
    result = evaluate.evaluate_checkpoint(tmp_path, iw_samples=0)
    assert result["num_examples"] == 32 and "iw_nll_nats" not in result  # no latent variable model
    # A dropped pixel is off by -x, a kept (doubled) one by +x: whatever the draw, the input's squared
    # error is sum(x^2), 78.559 on average over the first 32 MNIST test images.
    assert result["noisy_mse"] == pytest.approx(78.559, rel=1e-4)
    # The linear output is given out as images, clipped to [0, 1]; the model's own mean is not clipped.
    run = restore_run(tmp_path)
    batch = run.split("test").take(np.arange(8))
    mean = run.experiment.reconstruct(run.state, batch, run.experiment.keys["sample"])[1]
    np.testing.assert_array_equal(run.reconstruct(batch["image"]), np.clip(mean, 0.0, 1.0))
    assert np.min(mean) < 0.0 or np.max(mean) > 1.0  # a linear output, not a sigmoid
    saved = json.loads((tmp_path / "eval_test.json").read_text())
    assert saved["psnr_db"] == result["psnr_db"] and saved["code_active_fraction"] == result["code_active_fraction"]
