"""Errors that reach the user as one clear paragraph (the CLI prints them without a traceback)."""


class ConfigError(ValueError):
  """A config key or value is unknown, out of its allowed set or range, or does not fit the data."""


class WorkdirError(RuntimeError):
  """The workdir, or a file in it, cannot be used: not a directory, not writable, an unreadable metrics file."""
