"""Evaluation of a trained run: the reference's metrics, the classifier error on reconstructions,
an importance-weighted estimate of the test negative log-likelihood, and for a mixture prior the
accuracy of its components as clusters of the labels.

`evaluate_checkpoint(workdir)` is what `dvae evaluate` runs. All numbers are means per image over
the split (every example counted once), in nats unless the name says otherwise.
"""

import json
import math
import pathlib
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from dvae_jax import clustering, console, eval_loop, image_metrics, metric_writer, parallel, published
from dvae_jax.checkpoint import CheckpointError
from dvae_jax.data import Split
from dvae_jax.data.common import from_layout
from dvae_jax.errors import ConfigError
from dvae_jax.experiment import Experiment, check_divisible, evaluate_split, module_rngs
from dvae_jax.figures import save_reconstructions
from dvae_jax.inference import Run, restore_run
from dvae_jax.likelihood import bits_per_dim, importance_weighted_log_likelihood
from dvae_jax.models.vae import decoded_logvar
from dvae_jax.reports.files import read_json
from dvae_jax.workdir import INITIALIZATION, output_dir


def classifier_error_on_reconstructions(run: Run, classifier: Run, split: Split) -> float:
  """Error of `classifier` on one stochastic reconstruction of each image of `split`.

  The reference averages per batch of 256; this is the exact mean over images. The classifier sees
  the reconstructions as images in [0, 1] (a linear output clipped: LikelihoodConfig.image).
  """
  if not hasattr(classifier.experiment.model, "classify"):
    raise CheckpointError(
      f"--classifier_workdir {classifier.workdir} holds a {classifier.experiment.hparams.family!r} run, not a "
      "classifier; expected the workdir of a trained classifier (e.g. `dvae train --config "
      "experiments/mnist_classifier.py`). Nothing was changed."
    )
  if classifier.experiment.preprocess_spec != run.experiment.preprocess_spec:
    raise CheckpointError(
      f"the classifier in {classifier.workdir} was trained on differently preprocessed images "
      f"({classifier.experiment.preprocess_spec}) than the model in {run.workdir} ({run.experiment.preprocess_spec})."
    )
  model, classifier_model, hparams = run.experiment.model, classifier.experiment.model, run.experiment.hparams

  @jax.jit
  def errors(state, classifier_state, batch, key):
    inputs = run.experiment.prepare(batch)
    recon = model.apply(Experiment.variables(state), inputs["image"], rngs=module_rngs(key), method="reconstruct")
    recon = hparams.image(recon)
    logits = classifier_model.apply(Experiment.variables(classifier_state), recon, method="classify")
    return jnp.sum((jnp.argmax(logits, axis=-1) != inputs["label"]) * batch["mask"])

  batches = eval_loop.split_batches(split, run.experiment.config.train.eval_batch_size, "classifier on reconstructions")
  outputs = eval_loop.map_batches(
    lambda state, batch, key: errors(state, classifier.state, batch, key),
    run.state,
    batches,
    parallel.batch_sharding(run.experiment.mesh),
    key=_reconstruction_key(run),
  )
  return float(eval_loop.summed(outputs)) / len(split)


def _reconstruction_key(run: Run) -> jax.Array:
  """Folded with a batch's index, the key of its reconstructions: the same draws wherever a metric scores them."""
  return run.experiment.keys["sample"]


def reconstruction_quality(run: Run, split: Split, *, keep_images: bool = False) -> tuple[dict[str, float], dict]:
  """PSNR, SSIM and sharpness of one stochastic reconstruction of each image of `split` (means per
  image; the same reconstructions `classifier_error_on_reconstructions` scores), with the test
  images' own sharpness for comparison (image_metrics.py).

  The reconstructions are scored as images in [0, 1]: a linear output (a Gaussian likelihood with
  gaussian_mean "identity") clipped to [0, 1], as a user measures a saved image
  (LikelihoodConfig.image); a sigmoid output as it is. Inputs and reconstructions are scored as
  displayed: a scrambled layout (data.layout) is undone first, so that SSIM and sharpness compare
  neighbouring pixels of the image (PSNR, per pixel, is the same either way).

  With `keep_images`, also returns the inputs and reconstructions as arrays [N, H, W, C] (for the
  classifier-feature Frechet distance), else an empty dict.
  """
  experiment, model = run.experiment, run.experiment.model

  @jax.jit
  def quality(state, batch, key):
    inputs = experiment.prepare(batch)
    recon = model.apply(Experiment.variables(state), inputs["image"], rngs=module_rngs(key), method="reconstruct")
    recon = experiment.hparams.image(recon)
    layout = experiment.config.data.layout
    metrics = image_metrics.image_quality(from_layout(inputs["image"], layout), from_layout(recon, layout))
    sums = {name: jnp.sum(value * batch["mask"]) for name, value in metrics.items()}
    return (sums, {"images": inputs["image"], "reconstructions": recon}) if keep_images else (sums, {})

  batches = eval_loop.split_batches(split, experiment.config.train.eval_batch_size, "image quality")
  sharding = parallel.batch_sharding(experiment.mesh)
  outputs = eval_loop.map_batches(quality, run.state, batches, sharding, key=_reconstruction_key(run))
  means = {name: float(value) / len(split) for name, value in eval_loop.summed([s for s, _ in outputs]).items()}
  result = {
    "recon_psnr_db": means["psnr_db"],
    "recon_ssim": means["ssim"],
    "recon_sharpness": means["sharpness"],
    "test_sharpness": means["reference_sharpness"],
  }
  return result, eval_loop.concatenated([arrays for _, arrays in outputs], len(split)) if keep_images else {}


def prior_sample_images(run: Run, num: int) -> np.ndarray:
  """`num` images [num, H, W, C] in [0, 1] decoded from the prior, in batches of the eval batch size."""
  batch_size, key = run.experiment.config.train.eval_batch_size, run.experiment.keys["sample"]
  keys = [jax.random.fold_in(key, 1_000_000 + i) for i in range(-(-num // batch_size))]
  return np.concatenate([run.sample(batch_size, key=chunk_key) for chunk_key in keys])[:num]


def classifier_features(classifier: Run, images: np.ndarray, *, batch_size: int | None = None) -> np.ndarray:
  """The penultimate features [N, F] (float32) of a restored classifier run on images [N, H, W, C].

  `images` are floats in [0, 1] in the classifier's input space: what its experiment's `prepare`
  makes of its split's images, or what a model trained on the same preprocessing reconstructs or
  samples. Batches of `batch_size` (the classifier's eval batch size by default, a multiple of its
  mesh's devices) are sharded over its mesh; the last is padded by repeating its final image and
  the padding's features dropped.
  """
  if not hasattr(classifier.experiment.model, "features"):
    raise ValueError(f"{classifier.workdir} holds a {classifier.experiment.hparams.family!r} run, not a classifier.")
  images = np.asarray(images, dtype=np.float32)
  expected_shape = classifier.experiment.hparams.image_shape
  if images.ndim != 4 or tuple(images.shape[1:]) != tuple(expected_shape):
    raise ValueError(f"the classifier in {classifier.workdir} takes images [N, {expected_shape}], got {images.shape}.")
  if len(images) == 0:
    raise ValueError("no images to extract features from.")
  batch_size = batch_size or classifier.experiment.config.train.eval_batch_size
  num_devices = classifier.experiment.mesh.devices.size
  if batch_size % num_devices:
    raise ValueError(f"batch_size {batch_size} must be a multiple of the classifier mesh's {num_devices} devices.")
  model = classifier.experiment.model

  @jax.jit
  def features_of(state, batch):
    return model.apply(Experiment.variables(state), batch["image"], method="features")

  def padded_batches():
    for start in range(0, len(images), batch_size):
      batch = images[start : start + batch_size]
      yield {"image": np.concatenate([batch, np.repeat(batch[-1:], batch_size - len(batch), axis=0)])}

  sharding = parallel.batch_sharding(classifier.experiment.mesh)
  return eval_loop.concatenated(
    eval_loop.map_batches(features_of, classifier.state, padded_batches(), sharding), len(images)
  )


def classifier_frechet_distances(run: Run, classifier: Run, arrays: dict) -> dict[str, float]:
  """Frechet distances between the test images and the model's reconstructions (and, for a
  latent-variable model, as many prior samples), in the penultimate features of `classifier`
  (image_metrics.py: the FID's form, not its Inception features)."""
  test = classifier_features(classifier, arrays["images"])
  result = {
    "frechet_reconstructions": image_metrics.frechet_distance(
      test, classifier_features(classifier, arrays["reconstructions"])
    )
  }
  if run.experiment.family.latent:
    samples = prior_sample_images(run, len(arrays["images"]))
    result["frechet_prior_samples"] = image_metrics.frechet_distance(test, classifier_features(classifier, samples))
  return result


def log_marginal_estimate(
  model, variables, hparams, x: jax.Array, key: jax.Array, *, num_samples: int, chunk_size: int
):
  """The importance-weighted estimate of log p(x) [B] of a latent-variable model's output.

  The proposal is the posterior the model decodes: for "average_z" with samples k > 1,
  N(mean, sigma^2 / k), used both to draw z and in log q(z|x).
  """
  mean, logvar = model.apply(variables, x, method="encode")
  logvar = decoded_logvar(logvar, hparams)

  def log_likelihood_fn(z):  # [S, B, z] -> [S, B]
    logits = model.apply(variables, z, method="output_logits")
    return hparams.log_likelihood(logits, x[None], batch_dims=2)

  def log_prior_fn(z):  # [S, B, z] -> [S, B]
    return model.apply(variables, z, method="log_prior")

  return importance_weighted_log_likelihood(
    key, mean, logvar, log_likelihood_fn, num_samples=num_samples, chunk_size=chunk_size, log_prior_fn=log_prior_fn
  )


def importance_weighted_nll(
  run: Run, split: Split, *, num_samples: int, chunk_size: int, batch_size: int
) -> dict[str, float]:
  """-log p(x) estimated with `num_samples` importance samples from q(z|x), per image.

  The model's output likelihood is used: the VAE decoder's, or for the DVAE the DAE applied to
  the decoder's output. The proposal is the posterior the model decodes (for "average_z" with
  samples k > 1, N(mean, sigma^2 / k)), so the estimate bounds the same model as the ELBO. A true
  NLL only for binarized data under a Bernoulli likelihood.
  """
  experiment = run.experiment
  if not experiment.family.latent:
    raise ValueError(f"the {experiment.hparams.family!r} family has no latent variable model to estimate p(x) for.")
  check_divisible("eval.iw_batch_size", batch_size, experiment.mesh.devices.size)
  model, hparams = experiment.model, experiment.hparams
  sharding = parallel.batch_sharding(experiment.mesh)

  @jax.jit
  def nll_sum(state, batch, key):
    x = experiment.prepare(batch)["image"]
    log_px = log_marginal_estimate(
      model, Experiment.variables(state), hparams, x, key, num_samples=num_samples, chunk_size=chunk_size
    )
    return jnp.sum(-log_px * batch["mask"])

  num_batches = console.batches_of(len(split), batch_size)
  timed = min(1, num_batches - 1)  # the first batch after compilation (or the only one)
  started = [time.perf_counter()]

  def time_one_batch(index: int, output: jax.Array) -> None:
    if index in (timed - 1, timed):
      jax.block_until_ready(output)
    if index == timed - 1:
      started[0] = time.perf_counter()
    elif index == timed:
      rest = (time.perf_counter() - started[0]) * (num_batches - index - 1)
      console.note(
        f"importance-weighted NLL: k = {num_samples} on {len(split):,} images, {console.duration(rest)} more here "
        "(measured on one batch); --iw_limit N (images) or --iw_samples K shortens it."
      )

  batches = eval_loop.split_batches(split, batch_size, f"NLL, k = {num_samples}")
  key = experiment.keys["likelihood"]
  outputs = eval_loop.map_batches(nll_sum, run.state, batches, sharding, key=key, after_dispatch=time_one_batch)
  nll = float(eval_loop.summed(outputs)) / len(split)
  return {
    "iw_nll_nats": nll,
    "iw_bits_per_dim": float(bits_per_dim(nll, math.prod(hparams.image_shape))),
    "iw_samples": num_samples,
    "iw_num_examples": len(split),
  }


def initialization_record(workdir: pathlib.Path) -> dict[str, float]:
  """The numbers of the run's initialization.json (a run started from config.init_workdir: the state it
  started from, e.g. VaDE's clustering right after its GMM fit); {} for a run without one."""
  path = workdir / INITIALIZATION
  if not path.exists():
    return {}
  record = read_json(path, f"what the run's start from config.init_workdir recorded ({INITIALIZATION})")
  return {key: value for key, value in record.items() if isinstance(value, int | float) and not isinstance(value, bool)}


def evaluate_checkpoint(
  workdir: str | pathlib.Path,
  *,
  split: str = "test",
  config: ml_collections.ConfigDict | None = None,
  classifier_workdir: str | pathlib.Path | None = None,
  iw_samples: int | None = None,
  iw_limit: int | None = None,
  recompute_batch_norm: int | None = None,
  out_dir: str | pathlib.Path | None = None,
) -> dict[str, float]:
  """Evaluates the latest checkpoint in `workdir` on `split`; writes `eval_<split>.json` and a grid.

  `iw_samples` overrides `config.eval.iw_samples` (0 skips the likelihood estimate) and `iw_limit`
  `config.eval.iw_limit` (the estimate on the first N images); `recompute_batch_norm` overrides
  `config.eval.recompute_batch_norm`, for the model and the classifier alike (restore_run).

  The run is only read: it may be read-only (an archived run, a colleague's), or training (its
  latest complete checkpoint is evaluated; the trainer's files are not touched). The results go to
  `out_dir` (default: `workdir`, if it can be written): `eval_<split>.json`, written only once every
  number is known, the reconstruction grid and TensorBoard events under `tb/<split>`.
  """
  for name, value in (
    ("iw_samples", iw_samples),
    ("iw_limit", iw_limit),
    ("recompute_batch_norm", recompute_batch_norm),
  ):
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < (name == "iw_limit")):
      expected = "a positive number of images" if name == "iw_limit" else "a non-negative integer (0: none)"
      raise ConfigError(f"--{name}={value!r} is not valid; expected {expected}.")
  workdir = pathlib.Path(workdir)
  out_dir = output_dir(workdir, out_dir, default=workdir, what=f"eval_{split}.json")
  run = restore_run(workdir, config, recompute_batch_norm=recompute_batch_norm)
  experiment, eval_config = run.experiment, run.experiment.config.eval
  data = run.split(split)
  result = {
    "step": run.step,
    "epoch": run.step / experiment.steps_per_epoch,
    "split": split,
    "family": experiment.hparams.family,
    "num_examples": len(data),
    **evaluate_split(experiment, run.state, data, desc=f"{split} metrics"),
  }
  if isinstance(getattr(experiment.hparams, "likelihood", None), str):
    result["likelihood"] = experiment.hparams.likelihood  # names the reference's "test loss" in the headline
  if run.recomputed_batch_norm:
    result["recomputed_batch_norm_batches"] = run.recomputed_batch_norm
  classifier = (
    restore_run(classifier_workdir, recompute_batch_norm=recompute_batch_norm) if classifier_workdir else None
  )
  if classifier is not None:
    result["classifier_error_on_reconstructions"] = classifier_error_on_reconstructions(run, classifier, data)
    result["classifier_workdir"] = str(classifier_workdir)
  if experiment.family.generative:
    quality, arrays = reconstruction_quality(run, data, keep_images=classifier is not None)
    result.update(quality)
    if classifier is not None:
      result.update(classifier_frechet_distances(run, classifier, arrays))
  if clustering.clusters(experiment):  # on the test split above; here also on every image, and at the start
    every = clustering.every_image(experiment.splits)
    result.update(clustering.split_metrics(experiment, run.state, every, suffix="_all"))
    result.update(initialization_record(workdir))
  num_samples = eval_config.iw_samples if iw_samples is None else iw_samples
  if experiment.family.latent and num_samples:
    limit = eval_config.iw_limit if iw_limit is None else iw_limit
    subset = data.head(limit) if limit else data
    result.update(
      importance_weighted_nll(
        run,
        subset,
        num_samples=num_samples,
        chunk_size=eval_config.iw_chunk_size,
        batch_size=eval_config.iw_batch_size,
      )
    )
  reference = published.published_metrics(experiment.config)
  if reference is not None and split == "test":
    result["published"] = reference
    result["published_source"] = experiment.config.published
  grid = None
  if experiment.family.generative:
    grid = save_reconstructions(experiment, run.state, data, out_dir / f"{split}_reconstructions.png", split_name=split)
  if parallel.is_primary():
    metric_writer.atomic_write_text(out_dir / f"eval_{split}.json", json.dumps(result, indent=2, sort_keys=True) + "\n")
    metric_writer.write_evaluation(out_dir, run.step, split, result, {"reconstructions": grid} if grid else {})
  return result
