"""Exceptions that carry a user-facing message naming the bad input.

The CLI prints these without a traceback; everything else is a bug.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class WsnasError(Exception):
    """Base class: a problem with the user's input (config, file, arch string)."""


class ConfigError(WsnasError):
    """A configuration key, type or value is not acceptable."""


class ArchError(WsnasError, ValueError):
    """An architecture string or encoding is malformed."""


class BenchmarkError(WsnasError):
    """A ground-truth file or cache is missing, corrupt or of the wrong kind."""


class DataError(WsnasError):
    """A data set is missing or malformed."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest choice, or ''."""
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""
