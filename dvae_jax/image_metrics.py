"""Image-quality metrics of reconstructions and samples that need no download.

Per-image metrics on batches [B, H, W, C] of floats in [0, 1] (pure and jittable, so evaluation can
sum them batch by batch under its mask):
  psnr           peak signal-to-noise ratio in dB, peak value 1 (dm-pix's `pix.psnr`)
  ssim           structural similarity of Wang et al. 2004 (dm-pix's `pix.ssim`: 11 x 11 Gaussian
                 window, sigma 1.5, K1 0.01, K2 0.03, over the valid window positions as
                 tf.image.ssim, per channel and then averaged)
  sharpness      mean gradient magnitude by forward differences; blur lowers it, so the ratio of a
                 model's reconstructions to the test images shows how much the model blurs

And a distance between two sets of images, on the host in float64:
  classifier-feature Frechet distance: the Frechet distance between Gaussians fitted to the
  penultimate features of the project's own trained classifier (`Classifier.features`). It has
  the form of the FID but not its feature space (Inception weights are not available here), so
  its values are comparable only between runs scored by the same classifier checkpoint.
"""

import dm_pix as pix
import jax
import jax.numpy as jnp
import numpy as np

# The SSIM of Wang et al. 2004, section III-C.
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _check_images(name: str, images: jax.Array) -> None:
  # Shapes and dtypes are static, so these checks cost nothing under jit; dm-pix's own checks name
  # neither the argument nor what was expected.
  if images.ndim != 4:
    raise ValueError(f"{name}: expected an image batch [B, H, W, C], got shape {images.shape}.")
  if not jnp.issubdtype(images.dtype, jnp.floating):
    raise ValueError(f"{name}: expected floats in [0, 1], got dtype {images.dtype} (divide uint8 images by 255).")


def _check_pair(reference: jax.Array, images: jax.Array) -> None:
  _check_images("reference", reference)
  _check_images("images", images)
  if reference.shape != images.shape:
    raise ValueError(f"reference and images differ in shape: {reference.shape} vs {images.shape}.")


def psnr(reference: jax.Array, images: jax.Array) -> jax.Array:
  """Peak signal-to-noise ratio [B] in dB, peak value 1: -10 log10(MSE over pixels and channels).

  +inf for an exact copy (MSE 0); a model's reconstruction probabilities never are one.
  """
  _check_pair(reference, images)
  return pix.psnr(reference, images)


def ssim(reference: jax.Array, images: jax.Array) -> jax.Array:
  """Structural similarity [B] (Wang et al. 2004), mean over valid window positions and channels.

  1 for identical images. Needs images of at least 11 x 11: the window is only placed where it
  fits, so a 28 x 28 MNIST digit yields an 18 x 18 map.
  """
  _check_pair(reference, images)
  height, width = reference.shape[1:3]
  if min(height, width) < SSIM_WINDOW:
    raise ValueError(
      f"SSIM needs images of at least {SSIM_WINDOW} x {SSIM_WINDOW} (its window), got {height} x {width}."
    )
  return pix.ssim(
    reference, images, max_val=1.0, filter_size=SSIM_WINDOW, filter_sigma=SSIM_SIGMA, k1=SSIM_K1, k2=SSIM_K2
  )


def sharpness(images: jax.Array) -> jax.Array:
  """Mean gradient magnitude [B], in intensity per pixel, by forward finite differences.

  At each pixel (i, j) with a right and a lower neighbour, sqrt(dx^2 + dy^2) with
  dx = x[i, j+1] - x[i, j] and dy = x[i+1, j] - x[i, j], averaged over those (H-1)(W-1) positions
  and the channels. Forward differences rather than Sobel because their closed forms are exact and
  they add no smoothing of their own: a constant image gives 0, a ramp of slope a gives |a|, a 0/1
  checkerboard gives sqrt(2).
  """
  _check_images("images", images)
  dx = images[:, :-1, 1:, :] - images[:, :-1, :-1, :]  # [B, H-1, W-1, C]
  dy = images[:, 1:, :-1, :] - images[:, :-1, :-1, :]  # [B, H-1, W-1, C]
  return jnp.mean(jnp.sqrt(dx**2 + dy**2), axis=(1, 2, 3))


def image_quality(reference: jax.Array, images: jax.Array) -> dict[str, jax.Array]:
  """Every per-image metric [B] of `images` (reconstructions) against `reference` (the inputs).

  Both sharpnesses are returned so that their ratio (below 1 for a blurring model) can be formed
  from the means over a split.
  """
  return {
    "psnr_db": psnr(reference, images),
    "ssim": ssim(reference, images),
    "sharpness": sharpness(images),
    "reference_sharpness": sharpness(reference),
  }


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Mean [F] and covariance [F, F] (unbiased, n - 1) of features [N, F], in float64.

  float64 on the host because the Frechet distance subtracts traces of similar size: float32
  would leave rounding of order 1e-7 times the trace, which swamps the distance of close sets.
  """
  features = np.asarray(features, dtype=np.float64)
  if features.ndim != 2:
    raise ValueError(f"expected features [N, F], got shape {features.shape}.")
  if features.shape[0] < 2:
    raise ValueError(f"a covariance needs at least 2 samples, got {features.shape[0]}.")
  return features.mean(axis=0), np.cov(features, rowvar=False).reshape(features.shape[1], features.shape[1])


def _psd_eigenvalues(eigenvalues: np.ndarray) -> np.ndarray:
  """Eigenvalues of a symmetric PSD matrix with those within rounding of 0 set to exactly 0.

  A singular covariance (fewer samples than features, dead features) has eigenvalues that are 0 up
  to rounding, of either sign and of order eps * largest; their square roots, of order
  sqrt(eps * largest), would be the whole error of the distance. Below dim * eps * largest they
  cannot be told from rounding, so they are taken as 0 (a change of at most sqrt of that bound to
  a square root, no more than rounding already makes).
  """
  tolerance = eigenvalues.size * np.finfo(np.float64).eps * np.max(np.abs(eigenvalues), initial=0.0)
  return np.where(eigenvalues > tolerance, eigenvalues, 0.0)


def _symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
  """The PSD square root of a symmetric PSD matrix."""
  eigenvalues, eigenvectors = np.linalg.eigh(matrix)
  return (eigenvectors * np.sqrt(_psd_eigenvalues(eigenvalues))) @ eigenvectors.T


def frechet_distance_from_statistics(mean1: np.ndarray, cov1: np.ndarray, mean2: np.ndarray, cov2: np.ndarray) -> float:
  """||mean1 - mean2||^2 + tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2)), the squared 2-Wasserstein
  distance between two Gaussians.

  tr((cov1 cov2)^(1/2)) is computed as tr((s cov2 s)^(1/2)) with s = cov1^(1/2): cov1 cov2 is
  similar to the symmetric PSD matrix s cov2 s, so the two have the same eigenvalues, and a
  symmetric eigendecomposition gives them real, and non-negative once rounding about 0 is set to 0.
  That avoids scipy.linalg.sqrtm of the non-symmetric product, whose result picks up imaginary
  parts and needs an epsilon added to the diagonal when the covariances are near singular (fewer
  samples than features, or dead features) as they often are.
  """
  mean1, mean2 = np.asarray(mean1, np.float64), np.asarray(mean2, np.float64)
  cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
  if mean1.shape != mean2.shape or cov1.shape != cov2.shape or cov1.shape != mean1.shape * 2:
    raise ValueError(
      f"mismatched statistics: means {mean1.shape} and {mean2.shape}, covariances {cov1.shape} and {cov2.shape}."
    )
  sqrt_cov1 = _symmetric_sqrt(cov1)
  product = sqrt_cov1 @ cov2 @ sqrt_cov1
  eigenvalues = np.linalg.eigvalsh((product + product.T) / 2)  # symmetrized against rounding
  trace_sqrt_product = np.sum(np.sqrt(_psd_eigenvalues(eigenvalues)))
  difference = mean1 - mean2
  return float(difference @ difference + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_sqrt_product)


def frechet_distance(features1: np.ndarray, features2: np.ndarray) -> float:
  """The Frechet distance between Gaussians fitted to two sets of feature vectors [N1, F], [N2, F].

  Each set needs at least 2 samples. With fewer samples than features the covariances are
  singular: the distance is still defined, but biased upwards, as every Frechet distance estimated
  from few samples is; compare values only at equal sample counts.
  """
  features1, features2 = np.asarray(features1), np.asarray(features2)
  if features1.ndim != 2 or features2.ndim != 2 or features1.shape[1] != features2.shape[1]:
    raise ValueError(f"expected two feature sets [N1, F] and [N2, F], got {features1.shape} and {features2.shape}.")
  return frechet_distance_from_statistics(*feature_statistics(features1), *feature_statistics(features2))
