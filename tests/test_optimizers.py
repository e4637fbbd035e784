"""optimizers.py: the learning-rate schedules at known steps, the reference's included."""

import numpy as np

from dvae_jax import configs
from dvae_jax.optimizers import make_schedule


def _schedule(**optim):
  config = configs.base_config()
  config.optim.update(optim)
  configs.validate(config)
  schedule = make_schedule(config.optim, steps_per_epoch=10)
  return [float(schedule(step)) for step in (0, 9, 10, 19, 20, 35, 1000)]


def test_learning_rate_schedules_at_known_steps():
  # 10 steps per epoch, decay every 1 epoch (10 steps).
  common = dict(learning_rate=1e-2, decay_epochs=1, decay_rate=0.5, min_learning_rate=1e-3)
  np.testing.assert_allclose(
    _schedule(schedule="staircase", **common), [1e-2, 1e-2, 5e-3, 5e-3, 2.5e-3, 1.25e-3, 1e-3], rtol=1e-6
  )
  smooth = [max(1e-2 * 0.5 ** (step / 10), 1e-3) for step in (0, 9, 10, 19, 20, 35, 1000)]
  np.testing.assert_allclose(_schedule(schedule="exponential", **common), smooth, rtol=1e-5)
  # A constant schedule ignores the decay keys, whatever they hold (decay_rate 1.0 included).
  constant = _schedule(schedule="constant", learning_rate=1e-3, decay_rate=1.0, min_learning_rate=0.0)
  np.testing.assert_allclose(constant, [1e-3] * 7, rtol=1e-7)
  # The floor is a floor: a run whose floor equals its rate stays at that rate.
  np.testing.assert_allclose(_schedule(schedule="staircase", learning_rate=1e-3, min_learning_rate=1e-3), [1e-3] * 7)


def test_reference_schedule_is_unchanged():
  """lr 0.01, x0.1 every 50 epochs, floor 1e-5 (docs/reference.md), in 843-step epochs."""
  schedule = make_schedule(configs.base_config().optim, steps_per_epoch=843)
  values = [float(schedule(epoch * 843)) for epoch in (0, 49, 50, 100, 150, 200, 249)]
  np.testing.assert_allclose(values, [1e-2, 1e-2, 1e-3, 1e-4, 1e-5, 1e-5, 1e-5], rtol=1e-5)
