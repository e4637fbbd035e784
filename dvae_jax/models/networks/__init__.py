"""Named networks, one file each; importing this package registers them all in ARCHITECTURES.

To add a network: a file with its config dataclass (a NetworkConfig), its encoder and decoder
modules, and one `ARCHITECTURES.register(...)` line; then import it below.
"""

from dvae_jax.models.networks import (  # noqa: F401  (registration)
  mlp,
  reference_conv,
  seed001_conv,
  seed001_mlp,
  seed003,
  seed004_conv,
)
from dvae_jax.models.networks.base import ARCHITECTURES, Architecture, NetworkConfig, network_field

__all__ = ["ARCHITECTURES", "Architecture", "NetworkConfig", "network_field"]
