"""The installed wsnas version, from the package metadata (pyproject.toml is the one place it is
written), so a module that records it (GT caches, built tables) need not import the package root."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("wsnas")
except PackageNotFoundError:  # run from a source tree that was never installed
    VERSION = "0+unknown"
