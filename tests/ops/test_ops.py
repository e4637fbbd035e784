"""ops/__init__.py: the fast_ops setting."""

import jax

from dvae_jax import ops


def test_fast_ops_setting():
  assert ops.use_fast_ops("on") and not ops.use_fast_ops("off")
  assert ops.use_fast_ops("auto") == (jax.default_backend() == "cpu")
