"""study/stats.py: the mean, the sample standard deviation and the paired difference with its t interval,
against hand-computed numbers."""

import pytest

from dvae_jax.study import stats

T_975 = {1: 12.706204736174694, 2: 4.302652729749462}  # Student's t, 0.975 quantile, by degrees of freedom


def test_mean_and_sample_standard_deviation():
  summary = stats.summarize([1.0, 2.0, 3.0, 4.0])
  assert (summary.n, summary.mean) == (4, 2.5)
  assert summary.sd == pytest.approx((5 / 3) ** 0.5, rel=1e-12)  # squares 2.25 + 0.25 + 0.25 + 2.25 = 5, / (4 - 1)
  assert stats.summarize([7.0]) == stats.Summary(1, 7.0, None)  # one seed: no spread
  assert stats.summarize([]) == stats.Summary(0, None, None)


def test_paired_difference_over_common_seeds_with_its_t_interval():
  # Seeds 5 and 7 are in one group only: the pairs are seeds 0, 1, 2 with differences 1, 2, 3.
  difference = stats.paired_difference({0: 11.0, 1: 12.0, 2: 13.0, 5: 99.0}, {0: 10.0, 1: 10.0, 2: 10.0, 7: 0.0})
  assert (difference.seeds, difference.mean, difference.sd) == ((0, 1, 2), 2.0, 1.0)
  assert T_975[2] == pytest.approx(4.302653, abs=1e-6)  # the textbook table's t(0.975, 2)
  assert difference.half_width == pytest.approx(2.4841377, abs=1e-7)  # 4.302653 * 1 / sqrt(3) = 4.302653 * 0.577350
  assert difference.interval == pytest.approx((2 - 2.4841377, 2 + 2.4841377), abs=1e-7)
  assert difference.excludes_zero is False
  # Differences 2.0 and 2.1: mean 2.05, sd 0.0707107, half width 12.706205 * 0.0707107 / sqrt(2) = 0.6353102.
  close = stats.paired_difference({0: 10.0, 1: 11.0}, {0: 8.0, 1: 8.9})
  assert (close.n, close.mean) == (2, pytest.approx(2.05))
  assert close.sd == pytest.approx(0.0707107, abs=1e-7) and close.half_width == pytest.approx(0.6353102, abs=1e-7)
  assert close.excludes_zero is True
  below = stats.paired_difference({0: 0.0, 1: 0.0, 2: 0.0}, {0: 3.0, 1: 4.0, 2: 5.0})  # -3, -4, -5
  assert (below.mean, below.sd, below.excludes_zero) == (-4.0, 1.0, True)
  single = stats.paired_difference({0: 3.0}, {0: 1.0, 1: 2.0})
  assert (single.n, single.mean, single.half_width, single.interval, single.excludes_zero) == (1, 2.0, None, None, None)
