"""console.py: the time estimates the commands print, and the number of batches they count."""

from dvae_jax import console


def test_an_estimate_is_in_seconds_minutes_or_hours():
  seconds = (0.2, 40, 89.4, 90, 720, 5399, 5400, 7920)
  expected = ["about 1 s", "about 40 s", "about 89 s", "about 2 min", "about 12 min", "about 90 min", "about 1.5 h"]
  assert [console.duration(s) for s in seconds] == [*expected, "about 2.2 h"]


def test_batches_of_counts_a_last_partial_batch():
  assert (console.batches_of(64, 16), console.batches_of(65, 16), console.batches_of(1, 16)) == (4, 5, 1)
