"""Search spaces; importing this package registers the built-in ones."""

from wsnas.spaces.base import SPACES, SearchSpace, get_space
from wsnas.spaces.darts.space import DartsSpace
from wsnas.spaces.mini.space import MiniSpace
from wsnas.spaces.nb101.space import NB101Space
from wsnas.spaces.nb201.arch import NB201Space

__all__ = ["SPACES", "SearchSpace", "get_space", "DartsSpace", "MiniSpace", "NB101Space", "NB201Space"]
