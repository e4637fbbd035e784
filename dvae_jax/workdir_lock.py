"""One writer per workdir: `dvae train` and `dvae evaluate` hold `<workdir>/.lock` while they write.

Two trainings on one workdir would interleave their metrics and overwrite each other's checkpoints
while both report success. The lock is an advisory `flock` on `<workdir>/.lock`, which also
records its holder (host, pid, start time, command): a second writer is refused with one paragraph
naming it. The kernel drops a flock when its process ends, however it ends, so a lock left by a
killed run is simply taken by the next one (the file stays; its record is rewritten). On a file
system without flock support, the run goes on unlocked, with a warning.

Only the standard library: the lock is taken before anything heavy is imported.
"""

import contextlib
import errno
import fcntl
import json
import logging
import os
import pathlib
import socket
import sys
import time
from collections.abc import Iterator

from dvae_jax.errors import WorkdirError

LOCK_NAME = ".lock"
# The command line the lock records (the CLI sets it before it parses its arguments away).
command_line: str | None = None


def describe(holder: dict) -> str:
  """'<purpose> by pid P on host H, started T (<command>)' of a lock record."""
  if not holder:
    return "another process (its record is not readable)"
  return (
    f"{holder.get('purpose', 'a run')} by pid {holder.get('pid')} on host {holder.get('host')}, started "
    f"{holder.get('started')} ({holder.get('command', '')})"
  )


class WorkdirLock:
  """The lock of one workdir, held by this process between `acquire` and `release`."""

  def __init__(self, workdir: str | pathlib.Path, purpose: str):
    self.path = pathlib.Path(workdir) / LOCK_NAME
    self.purpose = purpose
    self._fd: int | None = None

  def acquire(self) -> None:
    """Raises WorkdirError naming the holder if another process holds the lock."""
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = _read(fd)
      os.close(fd)
      raise WorkdirError(
        f"--workdir {self.path.parent} is in use: {describe(holder)} holds {self.path}. Two runs on one workdir "
        "would overwrite each other's checkpoints and metrics; wait for it to finish, stop it (a stopped training "
        "resumes when rerun), or use another --workdir. Nothing was changed."
      ) from None
    except OSError as e:
      os.close(fd)
      if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
        raise
      logging.warning("%s: this file system cannot lock files (%s); running without a workdir lock.", self.path, e)
      return
    record = {
      "host": socket.gethostname(),
      "pid": os.getpid(),
      "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
      "purpose": self.purpose,
      "command": command_line or " ".join(sys.argv),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
    self._fd = fd

  def release(self) -> None:
    if self._fd is None:
      return
    with contextlib.suppress(OSError):
      os.ftruncate(self._fd, 0)  # a record left behind would name a run that is over
    os.close(self._fd)  # drops the flock
    self._fd = None

  def __enter__(self) -> "WorkdirLock":
    self.acquire()
    return self

  def __exit__(self, *exc) -> None:
    self.release()


def is_held(workdir: str | pathlib.Path) -> bool:
  """Whether another process holds the workdir's lock now (False without a lock file, or without
  flock support, where runs go on unlocked)."""
  path = pathlib.Path(workdir) / LOCK_NAME
  try:
    fd = os.open(path, os.O_RDONLY)
  except FileNotFoundError:
    return False
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return False  # free (closing the descriptor releases the probe)
  except BlockingIOError:
    return True
  except OSError:
    return False
  finally:
    os.close(fd)


def _read(fd: int) -> dict:
  try:
    holder = json.loads(os.pread(fd, 1 << 16, 0) or b"{}")
  except (OSError, ValueError):
    return {}
  return holder if isinstance(holder, dict) else {}


@contextlib.contextmanager
def held(workdir: str | pathlib.Path, purpose: str, *, active: bool = True) -> Iterator[None]:
  """Holds the workdir's lock inside the block. `active` False (the other processes of a
  multi-process run, whose process 0 holds it) takes nothing."""
  if not active:
    yield
    return
  with WorkdirLock(workdir, purpose):
    yield
