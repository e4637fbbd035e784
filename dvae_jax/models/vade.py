"""VaDE, variational deep embedding (Jiang et al., IJCAI 2017; the `vade` family): a VAE whose prior is
a learned Gaussian mixture p(c) p(z|c), trained on the paper's ELBO, clustering by the responsibilities.

Generative model: c ~ Cat(pi), z | c ~ N(mu_c, diag sigma_c^2), x | z ~ p(x|z) (the network's decoder).
Inference: q(z, c | x) = q(z|x) q(c|x) with q(z|x) = N(mean, diag sigma~^2) from the encoder, and q(c|x)
taken as p(c|z) at a posterior draw z, the responsibilities

  gamma_c = pi_c N(z; mu_c, sigma_c^2) / sum_c' pi_c' N(z; mu_c', sigma_c'^2)

(computed in log space: a softmax over c of log pi_c + log N). The negative ELBO per image, with the
expectations over z given gamma in closed form (the paper's ELBO; its code draws one z per image, and
so does `samples` = 1, the default; S > 1 draws average it):

  -ELBO = -log p(x|z)
          + sum_c gamma_c [ 1/2 sum_j (log 2 pi + log sigma_cj^2 + (sigma~_j^2 + (mean_j - mu_cj)^2) / sigma_cj^2)
                            - log pi_c + log gamma_c ]
          - 1/2 sum_j (1 + log 2 pi + log sigma~_j^2)

i.e. reconstruction + KL(q(z, c|x) || p(z, c)), in nats per image (`kl_nats` is the second line plus the
third). The authors' Keras code computes the same up to a constant: its first log 2 pi term is counted
latent_dim times per dimension and its entropy leaves log 2 pi out, together latent_dim (latent_dim - 1)
log(2 pi) / 2 nats (82.7 at latent_dim 10) above this one; gradients are the same. A cluster is the
component with the largest responsibility at the posterior mean (`cluster`, the authors' test script).

Everything else is the `vae` family's: the network (encoder trunk, mean and log-variance heads,
decoder), the likelihood, and the prior module (priors.MixturePrior: softmax logits, means, log-scales,
all trained with the networks). The paper's two-stage recipe is `initialize`: a fresh run whose
config.init_workdir names a finished `ae` run (the pretraining, experiments/mnist_vade_pretrain.py)
starts from that autoencoder's encoder (its code layer as the mean head) and decoder, and from a
Gaussian mixture fitted to the posterior means of every training image by scikit-learn's
GaussianMixture (diagonal covariances, seeded by config.seed). docs/reference.md, "VaDE", lists each
choice against the paper and the authors' code.
"""

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from dvae_jax.models import hparams
from dvae_jax.models.family import FAMILIES, Family, Terms
from dvae_jax.models.networks import NetworkConfig, network_field
from dvae_jax.models.priors import MixturePrior, mixture_joint_log_prob, prior_field
from dvae_jax.models.vae import VAE, UnsupervisedVAEConfig

_LOG_2PI = math.log(2.0 * math.pi)
# scikit-learn's GaussianMixture as the authors' code fits it (sklearn's old mixture.GMM: diagonal
# covariances, k-means initialization, one initialization, 100 EM iterations, and min_covar 1e-3, which
# is GaussianMixture's reg_covar); random_state is the run's seed.
GMM_OPTIONS = {"covariance_type": "diag", "reg_covar": 1e-3, "max_iter": 100, "n_init": 1, "init_params": "kmeans"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class VaDEConfig(UnsupervisedVAEConfig):
  """Defaults: the paper's MNIST model (784-500-500-2000-10 on the `mlp` network, 10 components)."""

  family: str = "vade"
  network: NetworkConfig = network_field("mlp")
  weight_decay: float = 0.0
  l2_scheme: str = "single"
  latent_dim: int = 10
  prior: object = prior_field("mixture")

  def __post_init__(self):
    super().__post_init__()
    if not isinstance(self.prior, MixturePrior):
      raise hparams.FieldError("prior", "expected name='mixture': VaDE's prior p(c) p(z|c) is a Gaussian mixture")


class VaDE(VAE):
  """The `vae` family's module, whose outputs also carry the mixture's parameters (for the terms)."""

  def __call__(self, x: jax.Array, *, train: bool) -> dict[str, Any]:
    return {**super().__call__(x, train=train), "mixture": self.prior.parameters()}


def responsibilities(z: jax.Array, mixture: dict[str, jax.Array]) -> jax.Array:
  """log gamma_c = log p(c | z) [..., K] of codes [..., z] under `mixture` (means, log_scales, log_weights)."""
  joint = mixture_joint_log_prob(z, mixture["means"], mixture["log_scales"], mixture["log_weights"])
  return jax.nn.log_softmax(joint, axis=-1)


def expected_log_component_density(mean: jax.Array, logvar: jax.Array, mixture: dict[str, jax.Array]) -> jax.Array:
  """E_{q(z|x)} log N(z; mu_c, diag sigma_c^2) [B, K] for q(z|x) = N(mean, diag exp(logvar)), [B, z] each."""
  log_scales = mixture["log_scales"]  # [K, z]
  squared = jnp.exp(logvar)[:, None] + jnp.square(mean[:, None] - mixture["means"])  # [B, K, z]
  return -0.5 * jnp.sum(_LOG_2PI + 2.0 * log_scales + squared * jnp.exp(-2.0 * log_scales), axis=-1)


def kl_divergence(
  mean: jax.Array, logvar: jax.Array, z: jax.Array, mixture: dict[str, jax.Array]
) -> tuple[jax.Array, jax.Array]:
  """(KL(q(z, c|x) || p(z, c)) [B], the entropy of q(c|x) [B]), with q(c|x) the responsibilities at each
  of the draws z [S, B, z] (averaged over the S draws) and the expectations over z in closed form."""
  log_gamma = responsibilities(z, mixture)  # [S, B, K]
  gamma = jnp.exp(log_gamma)
  expected = expected_log_component_density(mean, logvar, mixture)  # [B, K]
  cross = jnp.sum(gamma * (log_gamma - mixture["log_weights"] - expected), axis=-1)  # [S, B]
  log_q_z = -0.5 * jnp.sum(1.0 + _LOG_2PI + logvar, axis=-1)  # E_q log q(z|x) [B]
  entropy = -jnp.sum(gamma * log_gamma, axis=-1)
  return jnp.mean(cross, axis=0) + log_q_z, jnp.mean(entropy, axis=0)


def vade_terms(outputs: dict[str, Any], batch: dict[str, jax.Array], config: VaDEConfig) -> Terms:
  x = batch["image"]
  recon = -jnp.mean(config.log_likelihood(outputs["logits"], x[None], batch_dims=2), axis=0)  # [B]
  kl, entropy = kl_divergence(outputs["mean"], outputs["logvar"], outputs["z"], outputs["mixture"])
  terms = {
    "recon_nats": recon,
    "kl_nats": kl,
    "elbo_kl_nats": kl,
    "neg_elbo_nats": recon + kl,
    "output_recon_nats": recon,
    "output_neg_elbo_nats": recon + kl,
    "cluster_entropy_nats": entropy,  # of q(c|x): 0 when every image sits in one component
  }
  return terms, recon + kl


def pretrained_params(params: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
  """`params` (a VaDE's) with the encoder and decoder of an `ae` run's `source` params: its encoder's
  layers but the last as the trunk, its last (the code layer) as the posterior mean head, its decoder as
  the decoder, as the authors' code loads its pretrained autoencoder. The log-variance head and the
  mixture keep their values. A ValueError naming every layer that does not fit."""
  inference, encoder = params["inference"], source.get("encoder", {})
  trunk, layers = sorted(inference["trunk"], key=_layer_index), sorted(encoder, key=_layer_index)
  if len(layers) != len(trunk) + 1:
    raise ValueError(
      f"the pretrained encoder has {len(layers)} layers ({layers}); expected {len(trunk) + 1}: this model's "
      f"trunk's {len(trunk)} and its code layer (the mean head)."
    )
  loaded = {"trunk": {name: encoder[layer] for name, layer in zip(trunk, layers[:-1], strict=True)}}
  loaded.update(mean=encoder[layers[-1]], generator=source.get("generator", {}))
  wanted = _shapes({"trunk": inference["trunk"], "mean": inference["mean"], "generator": params["generator"]})
  found = _shapes(loaded)
  if differ := sorted(k for k in wanted.keys() | found.keys() if wanted.get(k) != found.get(k)):
    raise ValueError(
      "the pretrained autoencoder's layers do not fit this model's: "
      + "; ".join(f"{k}: this model {wanted.get(k)}, pretrained {found.get(k)}" for k in differ)
    )
  inference = {**inference, "trunk": loaded["trunk"], "mean": loaded["mean"]}
  return {**params, "inference": inference, "generator": loaded["generator"]}


def _shapes(tree: Any) -> dict[str, tuple[int, ...]]:
  return {jax.tree_util.keystr(path): np.shape(leaf) for path, leaf in jax.tree_util.tree_leaves_with_path(tree)}


def _layer_index(name: str) -> int:
  return int(name.rpartition("_")[2])


def fit_mixture(codes: np.ndarray, components: int, seed: int):
  """scikit-learn's GaussianMixture fitted to codes [N, z] as the authors fit theirs (GMM_OPTIONS)."""
  from sklearn.mixture import GaussianMixture  # only a run that starts from a pretraining needs it

  return GaussianMixture(components, random_state=seed, **GMM_OPTIONS).fit(np.asarray(codes, np.float64))


def initialize(
  params: dict[str, Any],
  source: dict[str, Any],
  codes: Callable[[dict[str, Any]], np.ndarray],
  config: VaDEConfig,
  seed: int,
) -> tuple[dict[str, Any], dict[str, Any]]:
  """VaDE's start from its pretraining (Family.initialize): the `ae` run's weights (`pretrained_params`),
  then the mixture from a GaussianMixture fit (seeded by `seed`) of `codes(params)`, the posterior means of
  the training images under those weights: mu_c its means, sigma_c^2 its variances, pi uniform (the
  authors' code leaves theta at 1/K). Host params in and out; returns them with what the fit did."""
  params = pretrained_params(params, source)
  found = codes(params)
  if not np.all(np.isfinite(found)):
    raise ValueError("the pretrained autoencoder gives non-finite codes; retrain it.")
  gmm = fit_mixture(found, config.prior.components, seed)
  prior = dict(params["prior"])
  prior["means"] = np.asarray(gmm.means_, np.float32)
  prior["log_scales"] = np.asarray(0.5 * np.log(gmm.covariances_), np.float32)
  if "logits" in prior:
    prior["logits"] = np.zeros_like(prior["logits"])
  record = {
    "init_gmm_codes": len(found),
    "init_gmm_iterations": int(gmm.n_iter_),
    "init_gmm_converged": bool(gmm.converged_),
    "init_gmm_lower_bound": float(gmm.lower_bound_),
  }
  return {**params, "prior": prior}, record


FAMILIES.register("vade", Family(VaDEConfig, VaDE, vade_terms, initialize=initialize, init_source="ae"))
