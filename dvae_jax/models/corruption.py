"""Input corruption for denoising models. Every function takes an explicit key; the clean image
stays the target (the corrupted one is only ever an input).

Kinds (config `model.corruption.name`), images in [0, 1]:
  none             x
  gaussian         x + std * N(0, 1), clipped to [0, 1] unless `clip` is False
  masking          each pixel set to 0 with probability `rate`, the rest unchanged (Vincent et al. 2008)
  dropout          Keras-style dropout on the input: zeroed with probability `rate`, the rest / (1 - rate)
  salt_and_pepper  each pixel replaced with probability `rate` by 0 or 1 (equally likely)
"""

import dataclasses

import jax
import jax.numpy as jnp

from dvae_jax.models import hparams


def gaussian_noise(key: jax.Array, x: jax.Array, std: float, *, clip: bool = True) -> jax.Array:
  noisy = x + std * jax.random.normal(key, x.shape, x.dtype)
  return jnp.clip(noisy, 0.0, 1.0) if clip else noisy


def masking_noise(key: jax.Array, x: jax.Array, rate: float) -> jax.Array:
  keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
  return jnp.where(keep, x, jnp.zeros_like(x))


def dropout_noise(key: jax.Array, x: jax.Array, rate: float) -> jax.Array:
  return masking_noise(key, x, rate) / (1.0 - rate)


def salt_and_pepper_noise(key: jax.Array, x: jax.Array, rate: float) -> jax.Array:
  hit_key, value_key = jax.random.split(key)
  hit = jax.random.bernoulli(hit_key, rate, x.shape)
  salt = jax.random.bernoulli(value_key, 0.5, x.shape).astype(x.dtype)
  return jnp.where(hit, salt, x)


CORRUPTIONS = hparams.Registry("corruption")


@dataclasses.dataclass(frozen=True, kw_only=True)
class NoCorruption:
  name: str = "none"

  def __call__(self, key: jax.Array, x: jax.Array) -> jax.Array:
    del key
    return x


@dataclasses.dataclass(frozen=True, kw_only=True)
class GaussianCorruption:
  name: str = "gaussian"
  std: float = 0.5
  clip: bool = True  # to the data range [0, 1]

  def __post_init__(self):
    hparams.check_positive(self, "std")

  def __call__(self, key: jax.Array, x: jax.Array) -> jax.Array:
    return gaussian_noise(key, x, self.std, clip=self.clip)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MaskingCorruption:
  name: str = "masking"
  rate: float = 0.3

  def __post_init__(self):
    hparams.check_range(self, "rate", 0.0, 1.0, low_open=True)

  def __call__(self, key: jax.Array, x: jax.Array) -> jax.Array:
    return masking_noise(key, x, self.rate)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DropoutCorruption(MaskingCorruption):
  name: str = "dropout"
  rate: float = 0.5

  def __call__(self, key: jax.Array, x: jax.Array) -> jax.Array:
    return dropout_noise(key, x, self.rate)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SaltAndPepperCorruption(MaskingCorruption):
  name: str = "salt_and_pepper"
  rate: float = 0.1

  def __call__(self, key: jax.Array, x: jax.Array) -> jax.Array:
    return salt_and_pepper_noise(key, x, self.rate)


for _cls in (NoCorruption, GaussianCorruption, MaskingCorruption, DropoutCorruption, SaltAndPepperCorruption):
  CORRUPTIONS.register(_cls.name, _cls)


def corruption_field(default: str = "none"):
  """A family config's `corruption` field, chosen by `corruption.name`."""
  return hparams.choice(CORRUPTIONS, default)
