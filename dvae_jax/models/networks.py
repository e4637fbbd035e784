"""Encoder and decoder trunks shared by every model family.

The `conv` architecture is the reference's (dojoteef/dvae): 5x5 stride-1 SAME convs, each followed
by batch norm, ReLU and a 3x3 stride-2 SAME max-pool; a fully connected stack; and a decoder that
mirrors it with 5x5 stride-2 SAME transposed convs. With `conv_channels=(64, 64)`,
`fc_sizes=(384, 192)` it is the MNIST network, with `(128, 64)`, `(512, 256)` the CIFAR-10 one.
"""

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from dvae_jax.models.spec import ModelSpec

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
  "relu": nn.relu,
  "elu": nn.elu,
  "leaky_relu": nn.leaky_relu,
  "tanh": jnp.tanh,
  "softplus": nn.softplus,
}

# Weight initializers by name (`model.kernel_init`); biases start at zero. The reference uses
# Xavier (Glorot) normal; Flax's own default, and most peers', is LeCun normal.
KERNEL_INITS: dict[str, nn.initializers.Initializer] = {
  "xavier_normal": nn.initializers.xavier_normal(),
  "xavier_uniform": nn.initializers.xavier_uniform(),
  "lecun_normal": nn.initializers.lecun_normal(),
  "lecun_uniform": nn.initializers.lecun_uniform(),
  "he_normal": nn.initializers.he_normal(),
  "he_uniform": nn.initializers.he_uniform(),
}


def kernel_init(spec: ModelSpec) -> nn.initializers.Initializer:
  return KERNEL_INITS[spec.kernel_init]


def _dense(spec: ModelSpec, features: int, name: str) -> nn.Dense:
  return nn.Dense(features, kernel_init=kernel_init(spec), name=name)


def _norm(spec: ModelSpec, name: str, *, train: bool) -> Callable[[jax.Array], jax.Array]:
  if not spec.batch_norm:
    return lambda x: x
  return nn.BatchNorm(
    use_running_average=not train,
    momentum=spec.bn_momentum,
    epsilon=1e-3,  # tf.contrib.layers.batch_norm's default
    use_scale=spec.bn_trainable_affine,
    use_bias=spec.bn_trainable_affine,
    name=name,
  )


def _conv_grid(spec: ModelSpec) -> tuple[int, int]:
  """Spatial size after the encoder's pools; the decoder starts from it."""
  height, width, _ = spec.image_shape
  factor = 2 ** len(spec.conv_channels)
  if height % factor or width % factor:
    raise ValueError(
      f"image shape {spec.image_shape} is not divisible by 2**{len(spec.conv_channels)} "
      "(one stride-2 pool per conv layer); change model.conv_channels or the data."
    )
  return height // factor, width // factor


class Encoder(nn.Module):
  """Deterministic trunk: images [B, H, W, C] -> features [B, fc_sizes[-1]]."""

  spec: ModelSpec

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> jax.Array:
    spec = self.spec
    act = ACTIVATIONS[spec.activation]
    if spec.architecture == "conv":
      for i, channels in enumerate(spec.conv_channels):
        x = nn.Conv(channels, (spec.kernel_size,) * 2, padding="SAME", kernel_init=kernel_init(spec), name=f"conv_{i}")(
          x
        )
        x = act(_norm(spec, f"bn_conv_{i}", train=train)(x))
        x = nn.max_pool(x, (3, 3), strides=(2, 2), padding="SAME")
    x = x.reshape(x.shape[0], -1)
    for i, features in enumerate(spec.fc_sizes):
      x = _dense(spec, features, f"dense_{i}")(x)
      x = act(_norm(spec, f"bn_dense_{i}", train=train)(x))
    return x


class Decoder(nn.Module):
  """Generator: codes [B, D] -> pixel logits [B, H, W, C] (the likelihood applies the sigmoid)."""

  spec: ModelSpec

  @nn.compact
  def __call__(self, z: jax.Array, *, train: bool) -> jax.Array:
    spec = self.spec
    act = ACTIVATIONS[spec.activation]
    height, width, channels = spec.image_shape
    x = z
    for i, features in enumerate(reversed(spec.fc_sizes)):
      x = _dense(spec, features, f"dense_{i}")(x)
      x = act(_norm(spec, f"bn_dense_{i}", train=train)(x))
    last = len(spec.fc_sizes)
    if spec.architecture == "mlp":
      x = _dense(spec, height * width * channels, f"dense_{last}")(x)
      return x.reshape(x.shape[0], height, width, channels)
    grid_h, grid_w = _conv_grid(spec)
    x = _dense(spec, grid_h * grid_w * spec.conv_channels[0], f"dense_{last}")(x)
    # The reference applies batch norm but no activation before the reshape.
    x = _norm(spec, f"bn_dense_{last}", train=train)(x)
    x = x.reshape(x.shape[0], grid_h, grid_w, spec.conv_channels[0])
    for i, features in enumerate(spec.conv_channels[1:]):
      x = nn.ConvTranspose(
        features,
        (spec.kernel_size,) * 2,
        strides=(2, 2),
        padding="SAME",
        kernel_init=kernel_init(spec),
        name=f"deconv_{i}",
      )(x)
      x = act(_norm(spec, f"bn_deconv_{i}", train=train)(x))
    return nn.ConvTranspose(
      channels,
      (spec.kernel_size,) * 2,
      strides=(2, 2),
      padding="SAME",
      kernel_init=kernel_init(spec),
      name=f"deconv_{len(spec.conv_channels) - 1}",
    )(x)


class InferenceNet(nn.Module):
  """Encoder trunk plus the Gaussian posterior heads and the optional label head."""

  spec: ModelSpec

  @nn.compact
  def __call__(self, x: jax.Array, *, train: bool) -> dict[str, jax.Array]:
    spec = self.spec
    features = Encoder(spec, name="trunk")(x, train=train)  # [B, F]
    out = {
      "features": features,
      "mean": _dense(spec, spec.latent_dim, "mean")(features),  # [B, z]
      "logvar": _dense(spec, spec.latent_dim, "logvar")(features),  # [B, z]
    }
    if spec.label_head:
      out["label_logits"] = _dense(spec, spec.num_classes, "label_head")(features)  # [B, classes]
    return out


def reparameterize(key: jax.Array, mean: jax.Array, logvar: jax.Array, *, samples: int, mode: str) -> jax.Array:
  """Draws posterior codes [S, B, z].

  mode "elbo": S = samples independent draws (the k-sample ELBO average).
  mode "average_z": the reference's scheme, S = 1: draw `samples` codes and average them, so that
  z = mean + sigma * eps_bar with eps_bar ~ N(0, I / samples).
  """
  eps = jax.random.normal(key, (samples, *mean.shape), mean.dtype)
  if mode == "average_z":
    eps = jnp.mean(eps, axis=0, keepdims=True)
  return mean + jnp.exp(0.5 * logvar) * eps
