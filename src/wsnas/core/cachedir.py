"""Where wsnas keeps files it derives once and reuses: ground-truth tables, the NB101 enumeration."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "WSNAS_CACHE"


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """`cache_dir`, else $WSNAS_CACHE, else ~/.cache/wsnas."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "wsnas"
