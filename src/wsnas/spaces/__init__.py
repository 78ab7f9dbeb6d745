"""Search spaces; importing this package registers the built-in ones.

A space is one sub-package that implements `SearchSpace` and registers itself;
nothing outside its folder names it (docs/architecture.md: adding a space).
"""

from wsnas.spaces.base import SPACES, SearchSpace
from wsnas.spaces.darts.space import DartsSpace
from wsnas.spaces.mini.space import MiniSpace
from wsnas.spaces.nb101.space import NB101Space
from wsnas.spaces.nb201.space import NB201Space


def get_space(name: str) -> SearchSpace:
    """An instance of the registered space NAME (ConfigError with a close match otherwise)."""
    return SPACES.get(name)()


__all__ = ["SPACES", "SearchSpace", "get_space", "DartsSpace", "MiniSpace", "NB101Space", "NB201Space"]
