"""What the `dvae` commands print of a result: `dvae evaluate`'s metrics and headline table (the
bounds first, then the reference's own figures, named as such) and `dvae train`'s closing table.
No jax here."""

# The headline numbers of `dvae evaluate` and where they come from: the bounds first, then the
# reference's own figures, named as such (its "test loss" is not an ELBO).
HEADLINE = (
  ("-ELBO (output likelihood), nats", "output_neg_elbo_nats"),
  ("NLL, importance-weighted, nats", "iw_nll_nats"),
  ("NLL, bits/dim", "iw_bits_per_dim"),
  ("reconstruction -log p(x|z) of the output, nats", "output_recon_nats"),
  ("reference 'test loss' (output {loss} + its L2; not an ELBO), nats", "reference_loss"),
  ("  ... of the DVAE's DAE decoder (its output), nats", "reference_loss_dae_decoder"),
  ("  ... of the DVAE's VAE decoder, nats", "reference_loss_vae_decoder"),
  ("reference 'KLD' (KL charged in training), nats", "kl_nats"),
  ("classifier error on reconstructions", "classifier_error_on_reconstructions"),
  ("reconstructions: PSNR, dB", "recon_psnr_db"),
  ("reconstructions: SSIM", "recon_ssim"),
  ("reconstructions: sharpness (mean gradient magnitude)", "recon_sharpness"),
  ("real images: sharpness (for comparison)", "test_sharpness"),
  ("classifier-feature Frechet distance: reconstructions", "frechet_reconstructions"),
  ("classifier-feature Frechet distance: prior samples", "frechet_prior_samples"),
  ("{label_error}", "label_error"),
  ("autoencoder output vs the clean image: sum of squared errors", "recon_mse"),
  ("autoencoder output vs the clean image: PSNR, dB", "psnr_db"),
  ("corrupted input vs the clean image: PSNR, dB", "noisy_psnr_db"),
  ("mixture components as clusters: accuracy, one-to-one", "cluster_accuracy"),
  ("  ... on every image (training and test files)", "cluster_accuracy_all"),
  ("mixture components as clusters: NMI", "cluster_nmi"),
  ("  ... on every image (training and test files)", "cluster_nmi_all"),
)


def format_metrics(title: str, metrics: dict) -> str:
  """`title`, then one `name value` line per metric, sorted by name (floats to 4 decimals)."""
  lines = [title]
  for name in sorted(metrics):
    value = metrics[name]
    lines.append(f"  {name:<36} {value:.4f}" if isinstance(value, float) else f"  {name:<36} {value}")
  return "\n".join(lines)


# What the reference's "test loss" sums, by the run's output likelihood (`likelihood` of the result).
LOSS_NAMES = {"bernoulli": "BCE", "gaussian": "Gaussian -log p(x|z)"}


def headline_rows(result: dict) -> list[tuple[str, str]]:
  """(label, key) of the HEADLINE metrics `result` has, the labels made specific to its family and
  likelihood where the result records them (an older eval_test.json gets the generic words)."""
  words = {
    "loss": LOSS_NAMES.get(result.get("likelihood"), "reconstruction loss"),
    "label_error": {
      "classifier": "classifier error on the real images",
      None: "label error (label head or classifier)",
    }.get(result.get("family"), "label-head error on the real images"),
  }
  return [(label.format(**words), key) for label, key in HEADLINE if key in result]


def format_headline(result: dict) -> str:
  """The headline rows of an evaluation result; beside them the published values when the
  experiment names its source (`config.published`), with the number of epochs each was trained for."""
  published_values = result.get("published") or {}
  rows = [
    (f"{result['split']} {label}", result[key], published_values.get(key)) for label, key in headline_rows(result)
  ]
  if "iw_samples" in result:
    rows.append(("importance samples (k) / images", f"{result['iw_samples']} / {result['iw_num_examples']}", None))
  if published_values:
    rows.append(("epochs", f"{result['epoch']:.3g}", published_values["epochs"]))
  width = max(len(label) for label, _, _ in rows)

  def cell(value) -> str:
    return "" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)

  lines = [f"{'metric':<{width}}  {'this run':>10}" + (f"  {'published':>10}" if published_values else "")]
  for label, value, reference in rows:
    lines.append(f"{label:<{width}}  {cell(value):>10}" + (f"  {cell(reference):>10}" if published_values else ""))
  if published_values:
    lines.append(f"(published: {result['published_source']}, docs/reference.md; errors are fractions)")
  if "psnr_db" in result and "recon_psnr_db" in result:
    lines.append(
      "(the two PSNRs of the autoencoder score two independent draws of its input corruption: the loss's and the "
      "image metrics'; they differ by that noise)"
    )
  return "\n".join(lines)


def format_training_end(valid: dict, config, workdir) -> str:
  """What `dvae train` prints at the end: the headline table of the last validation metrics, and how
  `dvae evaluate`'s numbers will differ."""
  if not valid:
    return f"training done ({workdir}); no validation split (data.validation_fraction), so no validation metrics."
  result = {"split": "validation", **valid, "family": config.model.family, "likelihood": config.model.get("likelihood")}
  if not headline_rows(result):
    return format_metrics(f"validation metrics after training ({workdir}):", valid)
  differences = ["measures the test split"]
  if config.eval.recompute_batch_norm:
    differences.append(
      f"first recomputes batch norm's running statistics on {config.eval.recompute_batch_norm} training batches "
      "(eval.recompute_batch_norm; after a short run this can move every number a lot)"
    )
  if config.eval.iw_samples and config.model.family not in ("ae", "classifier"):
    differences.append(f"adds the importance-weighted NLL (k = {config.eval.iw_samples})")
  note = f"(validation split, eval mode, the running statistics as trained. `dvae evaluate --workdir {workdir}` "
  return f"{format_headline(result)}\n{note}{'; '.join(differences)}.)"


def format_evaluation(result: dict) -> str:
  """All that `dvae evaluate` prints of its result: every metric, a blank line, the headline."""
  title = f"all {result['split']} metrics at step {result['step']} (also in eval_{result['split']}.json):"
  listing = format_metrics(title, {name: value for name, value in result.items() if name != "published"})
  return f"{listing}\n\n{format_headline(result)}"
