"""What ships with wsnas beside the code: the demo config, the mini benchmark's build spec,
and `wsnas demo` (`presets/demo.py`). The finder of shipped configs and sweeps lives in
`wsnas.config.shipped` (the config layer resolves names); it is re-exported here.
"""

from __future__ import annotations

from wsnas.config.shipped import (
    describe,
    resolve_config,
    resolve_sweep,
    shipped,
    shipped_path,
    shipped_sweeps,
)

__all__ = ["describe", "resolve_config", "resolve_sweep", "shipped", "shipped_path", "shipped_sweeps"]
