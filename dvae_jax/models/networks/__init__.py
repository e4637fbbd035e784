"""Named networks, one file each; importing this package registers them all in ARCHITECTURES.

To add a network: a file with its config dataclass (a NetworkConfig), its encoder and decoder
modules, and one `ARCHITECTURES.register(...)` line; then import it below.
"""

from dvae_jax.models.networks import (  # noqa: F401  (registration)
  arunarn2_conv,
  arunarn2_mlp,
  dcgan_conv,
  discriminators,
  dojoteef_conv,
  face_dcgan,
  handson_conv,
  mlp,
  xuganyu96_discriminators,
)
from dvae_jax.models.networks.base import ARCHITECTURES, Architecture, NetworkConfig, network_field

__all__ = ["ARCHITECTURES", "Architecture", "NetworkConfig", "network_field"]

# The names dvae-jax 0.1 gave these networks, which its runs' config.json files and checkpoints
# record: still accepted, with a FutureWarning naming the current one, so that those runs still load,
# resume and evaluate. New configs use the names above.
ARCHITECTURES.rename("seed001_conv", "arunarn2_conv")
ARCHITECTURES.rename("seed001_mlp", "arunarn2_mlp")
ARCHITECTURES.rename("seed003_conv", "dcgan_conv")
ARCHITECTURES.rename("seed004_conv", "handson_conv")
# dvae-jax 0.1 named two networks by role and by dataset; 0.2 names a network from a published
# original by its source and a generic one by its architecture (CHANGELOG.md).
ARCHITECTURES.rename("reference_conv", "dojoteef_conv")
ARCHITECTURES.rename("face_conv", "dcgan_conv")
