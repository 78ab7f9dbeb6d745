"""mkdocs hook: every name `import wsnas` exports, and every public method of an exported class,
has a docstring, so `mkdocs build --strict` fails on an undocumented public API.

mkdocstrings renders what exists but does not complain about what is missing, and it reads the
source statically, which cannot follow a lazy `__getattr__`. This hook imports the package (the
checkout's `src/` first) and asks the objects themselves. Names in `__all__` that are plain data
(`__version__`, constants) carry no docstring of their own and are not checked.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.docs_public_api")

PACKAGE = "wsnas"


def _documented(obj: Any) -> bool:
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    return bool(doc and doc.strip())


def _own_methods(cls: type) -> list[tuple[str, Any]]:
    """Public callables and properties defined in the class body itself (not inherited ones)."""
    out = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, (classmethod, staticmethod)):
            member = member.__func__
        if inspect.isfunction(member) or isinstance(member, property):
            out.append((name, member))
    return out


def undocumented(package: str = PACKAGE) -> list[str]:
    """Dotted names of the package's public API that lack a docstring."""
    mod = importlib.import_module(package)
    missing = [] if _documented(mod) else [package]
    for name in getattr(mod, "__all__", []):
        obj = getattr(mod, name)
        if not (inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj)):
            continue
        if not _documented(obj):
            missing.append(f"{package}.{name}")
        if inspect.isclass(obj) and obj.__module__.split(".")[0] == package:
            missing += [
                f"{package}.{name}.{attr}" for attr, member in _own_methods(obj) if not _documented(member)
            ]
    return missing


def on_pre_build(config: Any) -> None:
    src = str(Path(config.config_file_path).resolve().parent / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    for name in undocumented():
        log.warning("public API without a docstring: %s", name)
