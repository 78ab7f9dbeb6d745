"""A bounded LRU of per-architecture execution plans, shared by the NB201, NB101 and DARTS super-nets.

A plan is cached under the architecture as it was passed (text, dict-free objects)
and under its parsed form, so a repeated text costs one dict lookup and equal
architectures written differently share one compiled plan. Unhashable forms (a
JSON dict) are parsed every time and looked up by their parsed form. Copies,
pickles and data-parallel replicas start with an empty cache: plans may hold
references to the original's modules.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, cast


class PlanCache:
    """Mixin of an `nn.Module`: `plans(arch)` -> `_build_plans(_parse_arch(arch))`, cached in `_plans`.

    Put it before `nn.Module` in the bases; it sets up `_plans` in `__init__`.
    """

    PLAN_CACHE_SIZE = 4096
    """Architectures whose plans are kept (random sampling rarely repeats; an eval pool has 200)."""
    _plans: OrderedDict[Any, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans = OrderedDict()

    def _parse_arch(self, arch: Any) -> Any:
        """The hashable parsed form of ARCH (raises the space's ArchError)."""
        raise NotImplementedError

    def _build_plans(self, parsed: Any) -> Any:
        """The plans of a parsed architecture."""
        raise NotImplementedError

    def clear_plans(self) -> None:
        """Forget every cached plan (they are rebuilt on demand)."""
        self._plans = OrderedDict()

    def _compile(self, arch: Any) -> Any:
        parsed = self._parse_arch(arch)
        plans = self._plans.get(parsed)
        if plans is None:
            plans = self._build_plans(parsed)
            self._remember(parsed, plans)
        return plans

    def _remember(self, key: Any, plans: Any) -> None:
        self._plans[key] = plans
        self._plans.move_to_end(key)
        while len(self._plans) > self.PLAN_CACHE_SIZE:
            self._plans.popitem(last=False)

    def plans(self, arch: Any) -> Any:
        """The plans for ARCH; cached."""
        try:
            plans = self._plans.get(arch)
        except TypeError:  # a dict: not hashable
            return self._compile(arch)
        if plans is None:
            plans = self._compile(arch)
            self._remember(arch, plans)
        else:
            self._plans.move_to_end(arch)
        return plans

    # Never let cached plans leak into copies, pickles or replicas.
    def __getstate__(self) -> dict[str, Any]:
        state = cast(dict[str, Any], super().__getstate__())  # nn.Module's, next in the MRO
        return {**state, "_plans": OrderedDict()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)  # type: ignore[misc]
        self._plans = OrderedDict()  # also for pickles made when the cache was a plain dict

    def _replicate_for_data_parallel(self) -> Any:
        replica = super()._replicate_for_data_parallel()  # type: ignore[misc]
        replica._plans = OrderedDict()
        return replica
