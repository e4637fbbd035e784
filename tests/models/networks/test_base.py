"""models/networks/base.py: a network's fast_ops setting: the conv networks use dvae_jax.ops when told."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dvae_jax.models import ARCHITECTURES, get_family
from tests.helpers import AE_RNGS, ae_config


@pytest.mark.parametrize("network", ["arunarn2_conv", "handson_conv"])
def test_conv_networks_use_the_fast_ops_when_told(network):
  """fast_ops "on" (dvae_jax.ops' transposed convs and max-pools) and "off" (autodiff of flax's layers):
  outputs and gradients equal to float32 rounding."""
  smoke = ARCHITECTURES[network].config.SMOKE
  models = {
    mode: get_family("ae").module(ae_config(network, net={**smoke, "fast_ops": mode})) for mode in ("on", "off")
  }
  x = jax.random.uniform(jax.random.key(3), (2, 28, 28, 1))
  params = models["off"].init(AE_RNGS, x, train=False)["params"]

  def loss(mode):
    return lambda p: jnp.sum(models[mode].apply({"params": p}, x, train=True, rngs=AE_RNGS)["logits"] ** 2)

  assert "custom_vjp_call" in str(jax.make_jaxpr(loss("on"))(params))
  assert "custom_vjp_call" not in str(jax.make_jaxpr(loss("off"))(params))
  both = jax.jit(lambda p: (jax.value_and_grad(loss("on"))(p), jax.value_and_grad(loss("off"))(p)))
  (loss_on, grad_on), (loss_off, grad_off) = both(params)
  # The polyphase forward of the transposed convs equals the plain op's to float32 rounding.
  np.testing.assert_allclose(loss_on, loss_off, rtol=1e-6)
  for on, off in zip(jax.tree.leaves(grad_on), jax.tree.leaves(grad_off), strict=True):
    np.testing.assert_allclose(on, off, rtol=1e-4, atol=1e-5 * float(jnp.max(jnp.abs(off))))
