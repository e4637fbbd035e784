"""Writes the learnable-loss table (markdown): seed 003's dense VAE with and without its
discriminator, per dataset and pixel loss, from the runs scripts/reproduce_vae_gan.sh trains.

  python3 scripts/vae_gan_table.py --runs runs/vae_gan --out results/vae_gan/table.md
"""

import argparse
import datetime
import json
import pathlib
import statistics

NAMES = {
  "mnist": "MNIST",
  "fashion": "Fashion-MNIST",
  "dense_vae": "VAE",
  "vae_gan": "VAE + D",
  "bce": "BCE",
  "l2": "L2",
}


def _load(workdir: pathlib.Path) -> dict | None:
  if not (workdir / "eval_test.json").exists():
    return None
  run = json.loads((workdir / "eval_test.json").read_text())
  records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines() if line.strip()]
  epochs = [r["epoch_seconds"] for r in records if r.get("split") == "valid" and "epoch_seconds" in r]
  # The first epoch also compiles; the median is the steady wall time per epoch.
  run["epoch_seconds"] = statistics.median(epochs) if epochs else None
  return run


def _fmt(value, digits: int = 2, scale: float = 1.0, suffix: str = "") -> str:
  return "-" if value is None else f"{value * scale:.{digits}f}{suffix}"


def table(runs: pathlib.Path, command: str) -> str:
  lines = [
    "# VAE with a learnable loss: seed 003's dense VAE with and without its discriminator",
    "",
    f"Made by `{command.strip()}` on {datetime.date.today().isoformat()}.",
    "",
    "Test split, means per image. Pixel loss: the run's -log p(x|z) (BCE, or the sum of squared errors + a constant "
    "for L2), nats; KLD, nats; PSNR (dB) and SSIM of one reconstruction per test image; sharpness: mean gradient "
    "magnitude of the reconstructions / of the test images; Frechet distance between the test images and the "
    "reconstructions (recon.) or prior samples (samples), in the feature space of the project's own MLP classifier "
    "(experiments/mnist_feature_classifier.py; not the Inception FID); classifier error of the reconstructions; "
    "wall time per epoch (median over epochs: training and validation).",
    "",
    "| data | pixel loss | model | epochs | pixel loss (nats) | KLD | PSNR | SSIM | sharpness recon. / test "
    "| Frechet recon. | Frechet samples | classifier error on recon. | s / epoch |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ]
  for data in ("mnist", "fashion"):
    for pbp in ("bce", "l2"):
      for model in ("dense_vae", "vae_gan"):
        run = _load(runs / f"{data}_{model}_{pbp}")
        if run is None:
          continue
        sharpness = f"{_fmt(run.get('recon_sharpness'), 4)} / {_fmt(run.get('test_sharpness'), 4)}"
        lines.append(
          f"| {NAMES[data]} | {NAMES[pbp]} | {NAMES[model]} | {run['epoch']:.0f} | {_fmt(run.get('recon_nats'))} "
          f"| {_fmt(run.get('kl_nats'))} | {_fmt(run.get('recon_psnr_db'))} | {_fmt(run.get('recon_ssim'), 4)} "
          f"| {sharpness} | {_fmt(run.get('frechet_reconstructions'))} | {_fmt(run.get('frechet_prior_samples'))} "
          f"| {_fmt(run.get('classifier_error_on_reconstructions'), 2, 100, '%')} | {_fmt(run['epoch_seconds'], 1)} |"
        )
  faces = [
    (label, run)
    for label, name in (("VAE", "faces_vae"), ("VAE + ResNet D", "faces_vae_gan_resnet"))
    if (run := _load(runs / name)) is not None
  ]
  if faces:
    lines += [
      "",
      "The 64 x 64 face configs (experiments/faces_vae.py, faces_vae_gan.py:resnet: 512 latents, 32 base "
      "channels) on a stand-in folder, since no face dataset is on these machines: the 10,000 Fashion-MNIST "
      "test images written as 64 x 64 RGB PNGs (scripts/make_image_folder.py), split 80/20 by the loader's "
      "seeded shuffle. No classifier judges them.",
      "",
      "| model | epochs | pixel loss (nats) | KLD | PSNR | SSIM | sharpness recon. / test | s / epoch |",
      "|---|---|---|---|---|---|---|---|",
    ]
    for label, run in faces:
      lines.append(
        f"| {label} | {run['epoch']:.0f} | {_fmt(run.get('recon_nats'))} | {_fmt(run.get('kl_nats'))} "
        f"| {_fmt(run.get('recon_psnr_db'))} | {_fmt(run.get('recon_ssim'), 4)} "
        f"| {_fmt(run.get('recon_sharpness'), 4)} / {_fmt(run.get('test_sharpness'), 4)} "
        f"| {_fmt(run['epoch_seconds'], 1)} |"
      )
  lines += ["", "Classifier error on real test images:", "", "| data | error | epochs |", "|---|---|---|"]
  for data in ("mnist", "fashion"):
    run = _load(runs / f"{data}_classifier")
    if run is not None:
      lines.append(f"| {NAMES[data]} | {_fmt(run.get('label_error'), 2, 100, '%')} | {run['epoch']:.0f} |")
  return "\n".join(lines) + "\n"


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--runs", default="runs/vae_gan")
  parser.add_argument("--out", default="results/vae_gan/table.md")
  parser.add_argument("--command", default="python3 scripts/vae_gan_table.py")
  args = parser.parse_args()
  out = pathlib.Path(args.out)
  out.parent.mkdir(parents=True, exist_ok=True)
  out.write_text(table(pathlib.Path(args.runs), args.command))


if __name__ == "__main__":
  main()
