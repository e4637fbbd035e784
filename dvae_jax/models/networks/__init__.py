"""Named networks, one file each; importing this package registers them all in ARCHITECTURES.

To add a network: a file with its config dataclass (a NetworkConfig), its encoder and decoder
modules, and one `ARCHITECTURES.register(...)` line; then import it below.
"""

from dvae_jax.models.networks import (  # noqa: F401  (registration)
  arunarn2_conv,
  arunarn2_mlp,
  discriminators,
  face_conv,
  face_dcgan,
  gluon_discriminators,
  handson_conv,
  mlp,
  reference_conv,
)
from dvae_jax.models.networks.base import ARCHITECTURES, Architecture, NetworkConfig, network_field

__all__ = ["ARCHITECTURES", "Architecture", "NetworkConfig", "network_field"]

# The names dvae-jax 0.1 gave these networks, which its runs' config.json files and checkpoints
# record: still accepted, with a FutureWarning naming the current one, so that those runs still load,
# resume and evaluate. New configs use the names above.
ARCHITECTURES.rename("seed001_conv", "arunarn2_conv")
ARCHITECTURES.rename("seed001_mlp", "arunarn2_mlp")
ARCHITECTURES.rename("seed003_conv", "face_conv")
ARCHITECTURES.rename("seed004_conv", "handson_conv")
