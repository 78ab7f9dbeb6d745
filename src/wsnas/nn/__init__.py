"""Layers shared by the search spaces' super-nets and stand-alone networks."""

from wsnas.nn.bn import BNFactory, bn_factory, make_bn
from wsnas.nn.drop import DropPath, drop_path

__all__ = ["BNFactory", "bn_factory", "make_bn", "DropPath", "drop_path"]
