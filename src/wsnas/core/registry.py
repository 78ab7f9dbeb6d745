"""Name -> implementation registries, so a config string selects the code.

A registry may name an entry-point group (`wsnas.spaces`, `wsnas.samplers`, `wsnas.estimators`,
`wsnas.algorithms`): another installed package adds components by declaring, in its
`pyproject.toml`, an entry point in that group whose value is a module that registers them on
import. Those modules are imported the first time the registry is read, so `wsnas --help` and
a registry nobody reads stay as fast as before.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from wsnas.core.errors import ConfigError, did_you_mean

T = TypeVar("T")


class PluginError(ConfigError):
    """An installed plugin (an entry point) could not be loaded."""


class Registry(Generic[T]):
    """A named table of implementations with decorator registration (and plugins by entry point)."""

    def __init__(self, kind: str, group: str | None = None) -> None:
        self.kind = kind
        self.group = group
        """Entry-point group whose modules register more (None: none)."""
        self._items: dict[str, T] = {}
        self._loaded = group is None

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = obj
            return obj

        return deco

    def load_plugins(self) -> None:
        """Import every module of this registry's entry-point group (once)."""
        if self._loaded:
            return
        self._loaded = True  # first: a plugin that reads the registry while registering sees no loop
        for ep in entry_points(group=str(self.group)):
            try:
                importlib.import_module(ep.module)  # `pkg.mod` or `pkg.mod:attr`: the module registers
            except Exception as e:  # noqa: BLE001 - any failure of foreign code is named, not a trace
                dist = ep.dist.name if ep.dist is not None else "an installed package"
                raise PluginError(
                    f"{self.kind} plugin {ep.name!r} (entry point {ep.value!r} of {dist}, group "
                    f"{self.group}) failed to load: {type(e).__name__}: {e}"
                ) from e

    def get(self, name: str) -> T:
        self.load_plugins()
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise ConfigError(
                f"unknown {self.kind} '{name}'; known: {known}{did_you_mean(name, self._items)}"
            ) from None

    def names(self) -> list[str]:
        self.load_plugins()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self.load_plugins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
