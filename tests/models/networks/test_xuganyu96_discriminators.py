"""models/networks/xuganyu96_discriminators.py: the discriminators' parameter counts, derived layer by layer as
mxnet's collect_params() lists them."""

import itertools

import jax.numpy as jnp
import pytest

from tests.helpers import FACES, abstract_init, bn_params, bn_stats, conv_params, count, encoder


def conv_bn_discriminator_counts(base: int, stages: int) -> tuple[int, int]:
  widths = [3] + [base * 2**i for i in range(stages)]
  params = sum(conv_params(4, c_in, c_out, bias=False) for c_in, c_out in itertools.pairwise(widths))
  params += sum(bn_params(c) for c in widths[2:])  # batch norm on every stage but the first
  return params, sum(bn_stats(c) for c in widths[2:])


def resnet18_counts(base: int) -> tuple[int, int]:
  params, stats = conv_params(7, 3, base, bias=True) + bn_params(base), bn_stats(base)
  c_in = base
  for i in range(4):
    width = base * 2**i
    for block in range(2):
      params += conv_params(3, c_in, width, bias=True) + conv_params(3, width, width, bias=True)
      params += 2 * bn_params(width)
      stats += 2 * bn_stats(width)
      if i > 0 and block == 0:
        params += conv_params(1, c_in, width, bias=True)  # the 1x1 conv shortcut
      c_in = width
  return params, stats


@pytest.mark.parametrize(
  "name,expected",
  [
    ("conv_bn_discriminator", (165_760, 384)),
    ("deep_conv_bn_discriminator", (2_757_376, 1_792)),
    ("resnet18_discriminator", (11_179_520, 7_808)),
  ],
)
def test_discriminator_parameter_counts(name, expected):
  derived = {
    "conv_bn_discriminator": conv_bn_discriminator_counts(32, 3),
    "deep_conv_bn_discriminator": conv_bn_discriminator_counts(64, 4),
    "resnet18_discriminator": resnet18_counts(64),
  }[name]
  variables = abstract_init(encoder(name), jnp.zeros((2, *FACES)))
  assert (count(variables["params"]), count(variables["batch_stats"])) == derived == expected
