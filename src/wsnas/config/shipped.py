"""Configs and sweep specs that ship with wsnas, found where the package is installed.

`wsnas/configs/` holds the run configs of each space and `wsnas/configs/sweeps/` the
studies; `wsnas/presets/` the demo config and the mini benchmark's build spec. A command
takes a shipped NAME wherever it takes a path (`wsnas train nb201-quick`); a file that
exists at that path wins.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from wsnas.core.errors import ConfigError, did_you_mean


def _folder(package: str, sub: str = "") -> Path:
    return Path(str(resources.files(package).joinpath(sub) if sub else resources.files(package)))


def shipped() -> dict[str, tuple[str, Path]]:
    """Name (file stem) -> (kind, installed path): the run configs, then the presets."""
    found: dict[str, tuple[str, Path]] = {}
    for kind, folder in (("config", _folder("wsnas", "configs")), ("preset", _folder("wsnas", "presets"))):
        for path in sorted(folder.glob("*.yaml")):
            found.setdefault(path.stem, (kind, path))
    return found


def shipped_sweeps() -> dict[str, Path]:
    """Name (file stem) -> installed path of the shipped sweep specs."""
    return {p.stem: p for p in sorted(_folder("wsnas", "configs/sweeps").glob("*.yaml"))}


def _pick(name: str, files: dict[str, Path], what: str) -> Path:
    stem = name.removesuffix(".yaml")
    if stem not in files:
        names = list(files)
        raise ConfigError(
            f"no shipped {what} named {name!r}; shipped: {', '.join(names)}{did_you_mean(stem, names)}"
        )
    return files[stem]


def shipped_path(name: str) -> Path:
    """The installed file of a shipped config or preset NAME (`nb201-quick`, `demo`; `.yaml` optional)."""
    return _pick(name, {k: p for k, (_, p) in shipped().items()}, "config")


def sweep_path(name: str) -> Path:
    """The installed file of a shipped sweep spec NAME (`mini-paper`, `nb201`; `.yaml` optional)."""
    return _pick(name, shipped_sweeps(), "sweep spec")


def looks_like_name(text: str) -> bool:
    """TEXT names a shipped file (no folder part), rather than a path."""
    return "/" not in text and "\\" not in text and not text.startswith(".")


def resolve_config(path: str | os.PathLike[str]) -> Path:
    """PATH if a file is there, else the shipped config or preset of that name (errors list them)."""
    p = Path(path)
    if p.exists() or not looks_like_name(str(path)):
        return p
    return shipped_path(str(path))


def resolve_sweep(path: str | os.PathLike[str]) -> Path:
    """PATH if a file is there, else the shipped sweep spec of that name (errors list them)."""
    p = Path(path)
    if p.exists() or not looks_like_name(str(path)):
        return p
    return sweep_path(str(path))


def describe(path: Path) -> str:
    """A shipped file's first comment line (what it is), without the '#'."""
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""
