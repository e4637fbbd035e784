"""The one variant grammar, for experiments (`path.py:variant`) and studies (`study.py:variant`) alike,
after big_vision's `configs/common.py: parse_arg(arg, **defaults)`:

  VARIANT := NAME ("," NAME)*          e.g. "resnet,light,cpu"

Each NAME is a choice of one of the settings the file declares in its VARIANTS table or, for an
experiment, one of the generic variants "smoke" and "cpu" (GENERIC_VARIANTS); any order, at most one
choice per setting (a name given twice counts once). An unknown name, or two choices of one setting,
is a ConfigError listing the valid names. The VARIANTS table types each setting, as parse_arg's
defaults type its keys:

  {"light": False}                          a flag: the name "light" sets it True
  {"pixel_loss": ("bce", "l2")}             one of these names; the first is the default
  {"latent_dim": {"z100": 100, "z2": 2}}    one of these names, read as its value; the first is the default
  {"setting": (None, "cpu3")}               None first: naming none is the default (None)

`parse_variant` returns the settings with their values (and "generic": None, "smoke" or "cpu"), and
`apply_variant` applies the generic one to an experiment's config.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import ml_collections

from dvae_jax.configs.locking import nearest
from dvae_jax.errors import ConfigError

GENERIC_VARIANTS = ("smoke", "cpu")
SMOKE_LATENT_DIM = 8  # the smoke variant's model.latent_dim
GENERIC = "generic"  # the setting the generic variants choose


def parse_variant(
  variant: str | None,
  declared: Mapping[str, Any] | None = None,
  *,
  generic: Sequence[str] = GENERIC_VARIANTS,
  kind: str = "config",
) -> ml_collections.FrozenConfigDict:
  """The settings a variant string chooses (the module docstring has the grammar).

  Args:
    variant: comma-separated names, or None (every setting at its default).
    declared: setting -> its choices: False (a flag), a tuple of names or a mapping of names to values
      (the first is the default; None first: none named).
    generic: the names of the generic setting ("generic" in the result); () for a study, which has none.
    kind: what is named in errors ("config", "study").

  Returns:
    Each declared setting's value, and "generic" (None or one of `generic`) unless `generic` is empty.
  """
  settings = _settings(declared or {}, generic)
  owner = {name: setting for setting, choices in settings.items() for name in choices if name is not None}
  chosen: dict[str, str] = {}
  for name in dict.fromkeys(part for part in (variant or "").split(",") if part):
    if name not in owner:
      where = "" if name == variant else f" in {variant!r}"
      valid = _rules(settings, generic) or f"valid variants: {list(owner)} (or none)"
      raise ConfigError(f"unknown {kind} variant {name!r}{_guess(name, owner)}{where}; {valid}. Nothing was loaded.")
    setting = owner[name]
    if setting in chosen:
      raise ConfigError(
        f"{kind} variant {variant!r}: {chosen[setting]!r} and {name!r} both choose {setting!r}; expected at most "
        f"one of {[n for n in settings[setting] if n is not None]}. Nothing was loaded."
      )
    chosen[setting] = name
  values = {}
  for setting, choices in settings.items():
    name = chosen.get(setting, next(iter(choices)))
    values[setting] = choices[name] if isinstance(choices, Mapping) else name
  return ml_collections.FrozenConfigDict(values)


def _settings(declared: Mapping[str, Any], generic: Sequence[str]) -> dict[str, Any]:
  """`declared` as setting -> choices (a flag as {None: False, name: True}), with the generic setting; a
  ConfigError for a malformed table."""
  settings: dict[str, Any] = {}
  for setting, choices in declared.items():
    if choices is False:
      choices = {None: False, setting: True}
    elif not isinstance(choices, Mapping | tuple | list) or not choices or None in list(choices)[1:]:
      raise ConfigError(
        f"variant setting {setting!r}: {choices!r}; expected False (a flag), or a non-empty tuple of names or "
        "mapping of names to values (None, if at all, first: the default when none is named)."
      )
    settings[setting] = choices
  if GENERIC in settings:
    raise ConfigError(f"variant setting {GENERIC!r} is the generic variants' ({list(GENERIC_VARIANTS)}); rename it.")
  if generic:
    settings[GENERIC] = (None, *generic)
  names = [name for choices in settings.values() for name in choices if name is not None]
  if repeated := sorted({name for name in names if names.count(name) > 1}):
    raise ConfigError(f"variant names {repeated} name choices of two settings; expected each name once.")
  return settings


def _guess(name: str, valid: Sequence[str]) -> str:
  """ " (did you mean 'smoke'?)" with the `valid` variants nearest to `name`; "" if none is near."""
  near = nearest(name, valid)
  return f" (did you mean {near}?)" if near else ""


def _rules(settings: Mapping[str, Any], generic: Sequence[str]) -> str:
  """How names combine where a variant can have several ("expected names from [...] and at most one of [...],
  comma-separated, at most one of [...]"); "" where it has one setting."""
  if len(settings) < 2:
    return ""
  own = [[name for name in choices if name is not None] for s, choices in settings.items() if s != GENERIC]
  text = f"expected names from {[name for names in own for name in names]}"
  text += f" and at most one of {list(generic)}, comma-separated" if generic else ", comma-separated"
  return text + "".join(f", at most one of {names}" for names in own if len(names) > 1)


def apply_variant(
  config: ml_collections.ConfigDict, variant: str | ml_collections.FrozenConfigDict | None
) -> ml_collections.ConfigDict:
  """Applies the generic variant of `variant` to an experiment config.

  `variant` is a variant string of an experiment with no settings of its own, or what `parse_variant`
  returned for one with some (its "generic" setting is applied).

  "smoke": a tiny model (the network's SMOKE sizes) on the first 512 training / 256 evaluation
  images, 2 short epochs, for tests and for checking that an experiment runs end to end (seconds
  on a CPU).
  "cpu": the experiment's own model and loss on a schedule compressed to finish on a laptop CPU
  (the reference DVAE's measured time: README.md, "Train the default experiment"): 2 epochs on the first 27,000
  training images, the learning rate decayed after the first (the reference's staircase,
  compressed), batch-norm momentum 0.9, and a test NLL with k = 100 importance samples on the first 1,000
  test images. A shortened run, labelled as such wherever its numbers are reported.

  Why momentum 0.9: the reference's 0.999 cannot forget its initial statistics in 842 steps, and
  under the reference's L2 (64-192 x a single weight decay) the weights before each batch norm keep
  shrinking during a short run, so running averages with a long memory lag behind the batch
  statistics: measured on the reference classifier after 150 steps, eval-mode error 89% with
  momentum 0.99 and 6.5% with 0.9 (3.9% in train mode for both).
  """
  if not isinstance(variant, ml_collections.FrozenConfigDict):
    variant = parse_variant(variant)
  if variant[GENERIC] == "cpu":
    config.data.train_limit = 27_000
    config.train.num_epochs = 2
    config.optim.decay_epochs = 1
    if "bn_momentum" in config.model.network:
      config.model.network.bn_momentum = 0.9
    config.train.log_every_steps = 50
    config.eval.iw_samples = min(config.eval.iw_samples, 100)
    config.eval.iw_limit = 1000
    config.eval.recompute_batch_norm = 50
  elif variant[GENERIC] == "smoke":
    _smoke(config)
  return config


def _smoke(config: ml_collections.ConfigDict) -> None:
  """The "smoke" variant, in place."""
  from dvae_jax.models import ARCHITECTURES  # lazily: the grammar above imports no model

  config.data.train_limit = 512
  config.data.eval_limit = 256
  if "latent_dim" in config.model:
    config.model.latent_dim = SMOKE_LATENT_DIM
  # A tiny network of the same kind; running statistics must settle within a few steps.
  config.model.network.update(ARCHITECTURES.get_named(config.model.network.name).config.SMOKE)
  if "discriminator" in config.model:
    config.model.discriminator.update(ARCHITECTURES.get_named(config.model.discriminator.name).config.SMOKE)
  config.train.batch_size = 32
  config.train.eval_batch_size = 128
  config.train.num_epochs = 2
  config.train.log_every_steps = 4
  config.train.checkpoint_every_steps = 8
  config.train.grid_images = 16
  config.optim.learning_rate = 1e-3
  config.eval.iw_samples = 20
  config.eval.iw_chunk_size = 10
  config.eval.iw_batch_size = 32
  config.eval.iw_limit = 64
