"""image_metrics.py: image-quality metrics against closed forms and an independent float64 SSIM, and the Frechet
distance. (The classifier's features they use: tests/models/test_classifier.py, tests/test_evaluate.py.)"""

import jax
import numpy as np
import pytest
import scipy.linalg

from dvae_jax import image_metrics


def constant(value: float, shape=(1, 16, 16, 1)) -> np.ndarray:
  return np.full(shape, value, np.float32)


def smooth_image(rng: np.random.Generator, size: int = 28) -> np.ndarray:
  """A blob and a stripe pattern [size, size]: structure for SSIM to measure, values in [0.1, 0.9]."""
  i, j = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
  blob = np.exp(-((i - size / 2) ** 2 + (j - size / 3) ** 2) / (2 * (size / 5) ** 2))
  stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (i + 2 * j) / 9 + rng.uniform(0, 2 * np.pi))
  return (0.1 + 0.8 * (0.6 * blob + 0.4 * stripes)).astype(np.float32)


def ssim_float64(x: np.ndarray, y: np.ndarray) -> float:
  """Wang et al. 2004 written out for one channel [H, W]: at each position where the 11 x 11 window
  fits, the window-weighted means, variances and covariance (as sums of w (x - mu)^2, not the
  E[x^2] - mu^2 form dm-pix filters with), and the SSIM formula; the mean over positions."""
  x, y = x.astype(np.float64), y.astype(np.float64)
  offsets = np.arange(11) - 5
  gaussian = np.exp(-(offsets**2) / (2 * 1.5**2))
  window = np.outer(gaussian, gaussian) / np.sum(gaussian) ** 2
  c1, c2 = 0.01**2, 0.03**2
  values = []
  for row in range(x.shape[0] - 10):
    for col in range(x.shape[1] - 10):
      patch_x, patch_y = x[row : row + 11, col : col + 11], y[row : row + 11, col : col + 11]
      mu_x, mu_y = np.sum(window * patch_x), np.sum(window * patch_y)
      var_x = np.sum(window * (patch_x - mu_x) ** 2)
      var_y = np.sum(window * (patch_y - mu_y) ** 2)
      cov = np.sum(window * (patch_x - mu_x) * (patch_y - mu_y))
      values.append((2 * mu_x * mu_y + c1) * (2 * cov + c2) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)))
  return float(np.mean(values))


def test_psnr_of_a_known_mse():
  reference = np.zeros((2, 8, 8, 1), np.float32)
  images = np.zeros_like(reference)
  images[0] = 0.1  # MSE 0.01 -> 20 dB
  images[1, :4] = 0.2  # half the pixels off by 0.2: MSE 0.02 -> 10 log10(50) dB
  np.testing.assert_allclose(image_metrics.psnr(reference, images), [20.0, 10 * np.log10(50.0)], rtol=1e-5)


def test_ssim_of_identical_images_is_one():
  images = np.stack([smooth_image(np.random.default_rng(seed)) for seed in range(3)])[..., None]
  np.testing.assert_allclose(image_metrics.ssim(images, images), 1.0, rtol=1e-6)


def test_ssim_of_constant_images_is_the_luminance_term_averaged_over_channels():
  # Flat windows have no variance, so SSIM is (2 a b + C1) / (a^2 + b^2 + C1); a second, identical
  # channel contributes 1 to the per-channel mean.
  a, b, c1 = 0.5, 0.25, 0.01**2
  reference = np.concatenate([constant(a), constant(0.7)], axis=-1)
  images = np.concatenate([constant(b), constant(0.7)], axis=-1)
  luminance = (2 * a * b + c1) / (a**2 + b**2 + c1)
  np.testing.assert_allclose(image_metrics.ssim(reference, images), [(luminance + 1) / 2], rtol=1e-5)


def test_ssim_matches_an_independent_float64_implementation():
  rng = np.random.default_rng(0)
  reference = np.stack([smooth_image(rng) for _ in range(2)])  # [2, 28, 28]
  images = np.clip(reference + rng.normal(0, 0.1, reference.shape), 0, 1).astype(np.float32)
  images[1] = 0.5 * images[1] + 0.2  # lower contrast and a shifted mean, not only noise
  expected = [ssim_float64(reference[k], images[k]) for k in range(2)]
  ours = image_metrics.ssim(reference[..., None], images[..., None])
  assert 0.2 < min(expected) < max(expected) < 0.95  # a case that exercises every term
  np.testing.assert_allclose(ours, expected, atol=5e-6)  # measured 6.3e-7 (float32 filtering)


def test_ssim_decreases_as_noise_grows():
  rng = np.random.default_rng(1)
  reference = smooth_image(rng)[None, ..., None]
  noise = rng.normal(size=reference.shape).astype(np.float32)
  scores = [float(image_metrics.ssim(reference, reference + std * noise)[0]) for std in (0.0, 0.02, 0.05, 0.1, 0.3)]
  assert scores[0] == pytest.approx(1.0, abs=1e-6)
  assert all(earlier > later for earlier, later in zip(scores, scores[1:], strict=False)), scores


def test_ssim_rejects_images_smaller_than_its_window():
  with pytest.raises(ValueError, match="at least 11 x 11"):
    image_metrics.ssim(constant(0.5, (1, 8, 8, 1)), constant(0.5, (1, 8, 8, 1)))


def test_metrics_reject_integer_images_and_mismatched_shapes():
  with pytest.raises(ValueError, match="divide uint8 images by 255"):
    image_metrics.psnr(np.zeros((1, 16, 16, 1), np.uint8), np.zeros((1, 16, 16, 1), np.uint8))
  with pytest.raises(ValueError, match="differ in shape"):
    image_metrics.ssim(constant(0.5), constant(0.5, (2, 16, 16, 1)))


def test_sharpness_closed_forms():
  size = 12
  i, j = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
  images = np.stack(
    [
      np.full((size, size), 0.3),  # constant: 0
      0.05 * j,  # horizontal ramp of slope 0.05: 0.05
      0.03 * i + 0.04 * j,  # plane: |(0.03, 0.04)| = 0.05
      (i + j) % 2,  # 0/1 checkerboard: dx = dy = +-1, sqrt(2)
    ]
  ).astype(np.float32)[..., None]
  np.testing.assert_allclose(image_metrics.sharpness(images), [0.0, 0.05, 0.05, np.sqrt(2.0)], rtol=1e-5, atol=1e-7)


def test_sharpness_falls_when_an_image_is_blurred():
  image = np.kron(np.indices((4, 4)).sum(axis=0) % 2, np.ones((4, 4))).astype(np.float32)  # 16 x 16, 4 x 4 blocks
  kernel = np.ones(3) / 3
  blurred = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), 1, image)
  blurred = np.apply_along_axis(lambda c: np.convolve(c, kernel, mode="same"), 0, blurred).astype(np.float32)
  sharp, soft = image_metrics.sharpness(np.stack([image, blurred])[..., None])
  assert soft < sharp


def test_image_quality_is_jittable_and_matches_the_single_metrics():
  rng = np.random.default_rng(2)
  reference = np.stack([smooth_image(rng) for _ in range(2)])[..., None]
  images = np.clip(reference + rng.normal(0, 0.05, reference.shape), 0, 1).astype(np.float32)
  jitted = jax.jit(image_metrics.image_quality)(reference, images)
  assert set(jitted) == {"psnr_db", "ssim", "sharpness", "reference_sharpness"}
  np.testing.assert_allclose(jitted["psnr_db"], image_metrics.psnr(reference, images), rtol=1e-6)
  np.testing.assert_allclose(jitted["ssim"], image_metrics.ssim(reference, images), rtol=1e-6)
  np.testing.assert_allclose(jitted["sharpness"], image_metrics.sharpness(images), rtol=1e-6)
  np.testing.assert_allclose(jitted["reference_sharpness"], image_metrics.sharpness(reference), rtol=1e-6)
  assert jitted["sharpness"].shape == (2,)


def closed_form_frechet(mean1, cov1, mean2, cov2) -> float:
  """The textbook formula with scipy's general matrix square root of the non-symmetric product."""
  root = scipy.linalg.sqrtm(cov1 @ cov2)
  return float(np.sum((mean1 - mean2) ** 2) + np.trace(cov1 + cov2 - 2 * np.real(root)))


def random_covariance(rng: np.random.Generator, dim: int) -> np.ndarray:
  factor = rng.normal(size=(dim, dim))
  return factor @ factor.T / dim + 0.1 * np.eye(dim)


def test_frechet_distance_from_statistics_matches_the_closed_form():
  rng = np.random.default_rng(3)
  mean1, mean2 = rng.normal(size=5), rng.normal(size=5)
  cov1, cov2 = random_covariance(rng, 5), random_covariance(rng, 5)  # do not commute
  ours = image_metrics.frechet_distance_from_statistics(mean1, cov1, mean2, cov2)
  assert ours == pytest.approx(closed_form_frechet(mean1, cov1, mean2, cov2), rel=1e-10)
  # Diagonal covariances: sum (m1 - m2)^2 + sum (sqrt(v1) - sqrt(v2))^2.
  v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
  ours = image_metrics.frechet_distance_from_statistics(np.zeros(3), np.diag(v1), np.ones(3), np.diag(v2))
  assert ours == pytest.approx(3.0 + 1.0 + 1.0 + 0.0, rel=1e-12)


def test_frechet_distance_of_gaussian_samples_approaches_the_closed_form():
  rng = np.random.default_rng(4)
  dim, samples = 4, 200_000
  mean1, mean2 = np.zeros(dim), np.full(dim, 0.5)
  cov1, cov2 = random_covariance(rng, dim), random_covariance(rng, dim)
  features1 = rng.multivariate_normal(mean1, cov1, size=samples).astype(np.float32)
  features2 = rng.multivariate_normal(mean2, cov2, size=samples).astype(np.float32)
  expected = closed_form_frechet(mean1, cov1, mean2, cov2)
  # Measured 2.5853 against 2.5938 (0.33%, the sampling error of 200,000 samples).
  assert image_metrics.frechet_distance(features1, features2) == pytest.approx(expected, rel=0.01)


def test_frechet_distance_of_identical_sets_is_zero():
  rng = np.random.default_rng(5)
  features = rng.normal(size=(500, 16)).astype(np.float32)
  scale = np.trace(np.cov(features.astype(np.float64), rowvar=False))
  assert abs(image_metrics.frechet_distance(features, features)) < 1e-12 * scale
  # Fewer samples than features: singular covariances, still exactly 0 and never NaN.
  few = features[:5]
  assert abs(image_metrics.frechet_distance(few, few)) < 1e-12 * scale


def test_frechet_distance_needs_two_samples_and_matching_dimensions():
  with pytest.raises(ValueError, match="at least 2 samples, got 1"):
    image_metrics.frechet_distance(np.zeros((1, 3)), np.zeros((10, 3)))
  with pytest.raises(ValueError, match=r"\[N1, F\] and \[N2, F\]"):
    image_metrics.frechet_distance(np.zeros((10, 3)), np.zeros((10, 4)))
