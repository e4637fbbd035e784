"""models/dvae.py: the DVAE shares its encoder unless told not to; its terms add the DAE's and the generated
label's."""

import jax.numpy as jnp
import numpy as np

from dvae_jax.models.dvae import dvae_terms
from tests.helpers import hparams, init_model


def test_dvae_shares_the_encoder_unless_told_not_to():
  _, _, shared = init_model(hparams("dvae"))
  _, _, separate = init_model(hparams("dvae", share_encoder=False))
  assert "dae_inference" not in shared["params"] and "dae_inference" in separate["params"]


def test_dvae_terms_add_the_dae_and_generated_label_terms():
  config = hparams("dvae", "mlp", data=dict(image_shape=(2, 2, 1), num_classes=2))
  outputs = {
    "logits": jnp.zeros((1, 1, 2, 2, 1)),
    "dae_logits": jnp.full((1, 1, 2, 2, 1), 100.0),  # confident "on": 100 nats per "off" pixel
    "mean": jnp.zeros((1, 2)),
    "logvar": jnp.zeros((1, 2)),
    "label_logits": jnp.array([[0.0, 0.0]]),
    "generated_label_logits": jnp.array([[[0.0, 0.0]]]),
  }
  batch = {"image": jnp.array([[[[1.0], [1.0]], [[0.0], [1.0]]]]), "label": jnp.array([0])}
  terms, objective = dvae_terms(outputs, batch, config)
  np.testing.assert_allclose(terms["dae_recon_nats"], [100.0], rtol=1e-5)
  assert terms["output_recon_nats"] is terms["dae_recon_nats"]
  np.testing.assert_allclose(objective, [4 * np.log(2) + 0 + 100.0 + 2 * np.log(2)], rtol=1e-5)
