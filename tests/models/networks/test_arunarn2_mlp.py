"""models/networks/arunarn2_mlp.py: arunarn2/AutoEncoder's MLP: its shapes, and dropout in training only."""

import jax
import jax.numpy as jnp
import numpy as np

from dvae_jax.models import get_family
from tests.helpers import RNGS, hparams


def test_arunarn2_mlp_shapes_and_dropout_only_in_training():
  config = hparams("vae", "arunarn2_mlp", latent_dim=2, posterior_scale="softplus", label_head=False)
  x = jax.random.uniform(jax.random.key(3), (64, 28, 28, 1))
  model = get_family(config.family).module(config)
  variables = model.init(RNGS, x, train=False)
  shapes = jax.tree.map(jnp.shape, variables["params"])
  assert shapes["inference"]["trunk"] == {
    "dense_0": {"kernel": (784, 512), "bias": (512,)},
    "dense_1": {"kernel": (512, 512), "bias": (512,)},
  }
  assert [shapes["generator"][f"dense_{i}"]["kernel"] for i in range(3)] == [(2, 512), (512, 512), (512, 784)]

  def features(train: bool, dropout_key: int | None = None, rate_zero: bool = False):
    rngs = {} if dropout_key is None else {"dropout": jax.random.key(dropout_key)}
    cfg = hparams("vae", "arunarn2_mlp", net=dict(dropout_rate=0.0)) if rate_zero else config
    encoder = cfg.architecture.encoder(cfg.network)
    return encoder.apply({"params": variables["params"]["inference"]["trunk"]}, x, train=train, rngs=rngs)

  no_dropout = features(train=True, dropout_key=0, rate_zero=True)
  assert features(train=True, dropout_key=0).shape == (64, 512)
  np.testing.assert_array_equal(features(train=False), no_dropout)  # evaluation: no dropout, no "dropout" key
  trained = features(train=True, dropout_key=0)
  assert not np.array_equal(trained, features(train=True, dropout_key=1))
  dropped = np.mean(np.asarray(trained) == 0)
  assert 0.07 < dropped < 0.13  # keep probability 0.9
  recon = model.apply(variables, x, rngs=RNGS, method="reconstruct")  # eval mode: needs no dropout key
  assert recon.shape == (64, 28, 28, 1)
