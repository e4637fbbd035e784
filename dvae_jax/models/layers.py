"""Layer helpers shared by the networks: named initializers and activations, dense, batch norm."""

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
  "relu": nn.relu,
  "elu": nn.elu,
  "leaky_relu": nn.leaky_relu,  # slope 0.01
  "leaky_relu_0.2": lambda x: nn.leaky_relu(x, 0.2),  # the usual GAN discriminator's
  "tanh": jnp.tanh,
  "sigmoid": nn.sigmoid,
  "softplus": nn.softplus,
  "linear": lambda x: x,
}

# Weight initializers by name; biases start at zero. The reference uses Xavier (Glorot) normal;
# Flax's own default, and most peers', is LeCun normal.
KERNEL_INITS: dict[str, nn.initializers.Initializer] = {
  "xavier_normal": nn.initializers.xavier_normal(),
  "xavier_uniform": nn.initializers.xavier_uniform(),
  "lecun_normal": nn.initializers.lecun_normal(),
  "lecun_uniform": nn.initializers.lecun_uniform(),
  "he_normal": nn.initializers.he_normal(),
  "he_uniform": nn.initializers.he_uniform(),
}


def dense(features: int, kernel_init: str, name: str) -> nn.Dense:
  return nn.Dense(features, kernel_init=KERNEL_INITS[kernel_init], name=name)


def batch_norm(
  enabled: bool, name: str, *, train: bool, momentum: float, trainable_affine: bool = False
) -> Callable[[jax.Array], jax.Array]:
  """Batch norm with TF's epsilon (the reference's), or the identity when not `enabled`."""
  if not enabled:
    return lambda x: x
  return nn.BatchNorm(
    use_running_average=not train,
    momentum=momentum,
    epsilon=1e-3,  # tf.contrib.layers.batch_norm's default
    use_scale=trainable_affine,
    use_bias=trainable_affine,
    name=name,
  )
