"""Configs and specs that ship with wsnas, found where the package is installed.

`wsnas/configs/` holds the run configs of each space (the repository's `configs/`,
installed as package data); this package holds the demo config and the mini
benchmark's build spec. Their installed paths let a command work from any folder
(`wsnas config path nb201-quick`, `wsnas list configs`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from wsnas.errors import ConfigError, did_you_mean


def _folder(package: str, sub: str = "") -> Path:
    return Path(str(resources.files(package).joinpath(sub) if sub else resources.files(package)))


def shipped() -> dict[str, tuple[str, Path]]:
    """Name (file stem) -> (kind, installed path): the run configs, then the presets."""
    found: dict[str, tuple[str, Path]] = {}
    for kind, folder in (("config", _folder("wsnas", "configs")), ("preset", _folder("wsnas.presets"))):
        for path in sorted(folder.glob("*.yaml")):
            found.setdefault(path.stem, (kind, path))
    return found


def shipped_path(name: str) -> Path:
    """The installed file of a shipped config or preset NAME (`nb201-quick`, `demo`; `.yaml` optional)."""
    files = shipped()
    stem = name.removesuffix(".yaml")
    if stem not in files:
        names = list(files)
        raise ConfigError(f"no shipped config named {name!r}; shipped: {', '.join(names)}"
                          f"{did_you_mean(stem, names)}")
    return files[stem][1]


def describe(path: Path) -> str:
    """A shipped file's first comment line (what it is), without the '#'."""
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return ""
