"""What a long command shows on the terminal while it works: progress bars over batches and
one-line notes, on stderr so that stdout keeps the results.

The library stays quiet unless a caller asks for it (`with console.reporting():`, as `dvae evaluate`
does), so tests, notebooks and scripts get no bars they did not ask for.
"""

import contextlib
import contextvars
import math
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_REPORTING = contextvars.ContextVar("dvae_console_reporting", default=False)


@contextlib.contextmanager
def reporting(enabled: bool = True) -> Iterator[None]:
  """Shows progress bars and notes inside the block."""
  token = _REPORTING.set(enabled)
  try:
    yield
  finally:
    _REPORTING.reset(token)


def progress(items: Iterable[T], *, total: int, desc: str, unit: str = "batch") -> Iterator[T]:
  """`items`, with a bar (its rate and ETA from the batches done so far) while reporting."""
  if not _REPORTING.get():
    yield from items
    return
  from tqdm.auto import tqdm

  with tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=True) as bar:
    for item in items:
      yield item
      bar.update(1)


def note(message: str) -> None:
  """One line on stderr while reporting (between bars, without breaking them)."""
  if _REPORTING.get():
    from tqdm.auto import tqdm

    tqdm.write(message, file=sys.stderr)


def duration(seconds: float) -> str:
  """'about 40 s', 'about 12 min', 'about 2.2 h' for an estimate."""
  if seconds < 90:
    return f"about {max(1, round(seconds))} s"
  if seconds < 5400:
    return f"about {round(seconds / 60)} min"
  return f"about {seconds / 3600:.1f} h"


def batches_of(count: int, batch_size: int) -> int:
  return math.ceil(count / batch_size)
