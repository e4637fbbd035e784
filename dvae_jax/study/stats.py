"""The statistics of a study's report: a cell's mean and sample standard deviation over seeds, and the
paired difference of two groups with its t interval. Known-answer tests: tests/study/test_stats.py.

Seeds are the unit of replication: runs of one group differ only in config.seed, so the spread over
seeds is what a single run's number can be expected to move by. Two groups are compared seed by seed
(A's run with seed s minus B's run with seed s), which removes what a seed does to both alike (for
instance the data order, which depends on the seed only) and leaves the difference of the groups.
"""

import dataclasses
import math
from collections.abc import Iterable, Mapping

from scipy import stats


@dataclasses.dataclass(frozen=True)
class Summary:
  """The n values of one cell: their mean and sample standard deviation (ddof = 1; None for n < 2)."""

  n: int
  mean: float | None
  sd: float | None


def summarize(values: Iterable[float]) -> Summary:
  """Mean and sample standard deviation (divided by n - 1) of `values`."""
  values = [float(value) for value in values]
  n = len(values)
  if n == 0:
    return Summary(0, None, None)
  mean = math.fsum(values) / n
  sd = math.sqrt(math.fsum((value - mean) ** 2 for value in values) / (n - 1)) if n > 1 else None
  return Summary(n, mean, sd)


def t_half_width(sd: float, n: int, confidence: float = 0.95) -> float:
  """Half the width of the two-sided t interval of a mean: t.ppf((1 + c) / 2, n - 1) * sd / sqrt(n)."""
  return float(stats.t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)


@dataclasses.dataclass(frozen=True)
class PairedDifference:
  """A - B over the seeds both have: mean, sample sd and the t interval's half width (None for n < 2)."""

  seeds: tuple[int, ...]
  mean: float | None
  sd: float | None
  half_width: float | None
  confidence: float = 0.95

  @property
  def n(self) -> int:
    return len(self.seeds)

  @property
  def interval(self) -> tuple[float, float] | None:
    if self.half_width is None:
      return None
    return self.mean - self.half_width, self.mean + self.half_width

  @property
  def excludes_zero(self) -> bool | None:
    """Whether the interval lies wholly on one side of 0 (None: no interval, n < 2)."""
    if self.interval is None:
      return None
    low, high = self.interval
    return low > 0 or high < 0


def paired_difference(
  first: Mapping[int, float], second: Mapping[int, float], confidence: float = 0.95
) -> PairedDifference:
  """first[s] - second[s] over the seeds s both have, with the t interval of their mean.

  Args:
    first: seed -> value of group A.
    second: seed -> value of group B.
    confidence: the interval's coverage (0.95: t.ppf(0.975, n - 1)).
  """
  seeds = tuple(sorted(set(first) & set(second)))
  summary = summarize(first[seed] - second[seed] for seed in seeds)
  half_width = None if summary.sd is None else t_half_width(summary.sd, summary.n, confidence)
  return PairedDifference(seeds, summary.mean, summary.sd, half_width, confidence)
