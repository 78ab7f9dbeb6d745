"""Layers shared by the search spaces' super-nets and stand-alone networks."""

from wsnas.nn.bn import BNFactory, DynamicBNFactory, bn_factory, dynamic_bn_factory, make_bn
from wsnas.nn.drop import DropPath, drop_path

__all__ = [
    "BNFactory",
    "DynamicBNFactory",
    "bn_factory",
    "dynamic_bn_factory",
    "make_bn",
    "DropPath",
    "drop_path",
]
