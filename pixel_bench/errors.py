"""Error types whose messages name the file, key or value that is wrong.

The CLI catches :class:`PixelBenchError` and prints its message without a traceback, so every
user-facing failure should raise one of these with a message a person can act on.
"""

from __future__ import annotations


class PixelBenchError(Exception):
    """Base class for errors caused by user input or the environment (not by a bug)."""


class ConfigError(PixelBenchError):
    """A configuration file or value is missing, unreadable or malformed."""


class UnsafePathError(ConfigError):
    """A checkpoint's config names a file outside the checkpoint folder: always fatal (never a
    reason to fall back to other settings)."""


class UnknownNameError(PixelBenchError, KeyError):
    """A registry lookup failed; the message lists close matches."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class DataError(PixelBenchError):
    """Input data is missing or malformed (the message names file and line)."""


class SplitNotFoundError(DataError):
    """A split's data cannot be found (no local file, no reachable hub copy). The run skips an
    optional evaluation split then; a split that exists but is malformed is a plain DataError
    and always stops the run."""


class CheckpointError(PixelBenchError):
    """A checkpoint directory is missing files or does not match the model."""


class BusyError(PixelBenchError):
    """Another live process holds the lock of a result cell or run directory."""


class CellConflictError(PixelBenchError):
    """A result cell already holds the result of a different experiment (another identity)."""
