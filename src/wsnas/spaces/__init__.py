"""Search spaces; importing this package registers every space it finds.

A space is one sub-package with a `space.py` that implements `SearchSpace` and
registers it (`@SPACES.register(name)`): every sub-package of `wsnas.spaces` that
has one is imported here; every module another installed package names under the
`wsnas.spaces` entry-point group is imported the first time the registry is read
(`core.registry`). Nothing outside a space's folder names
it (docs/architecture.md: adding a space).
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from wsnas.spaces.base import SPACES, SearchSpace

ENTRY_POINTS = SPACES.group
"""Entry-point group of spaces that live in other packages (value: a module that registers one)."""


def _register_all() -> None:
    here = Path(__file__).parent
    for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda m: m.name):
        if info.ispkg and (here / info.name / "space.py").is_file():
            importlib.import_module(f"{__name__}.{info.name}.space")


_register_all()


def get_space(name: str) -> SearchSpace:
    """An instance of the registered space NAME (ConfigError with a close match otherwise)."""
    return SPACES.get(name)()


__all__ = ["SPACES", "SearchSpace", "get_space"]
