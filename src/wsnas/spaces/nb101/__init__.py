"""NAS-Bench-101: cell specs, the benchmark hash, enumeration and the `nb101` space."""

from wsnas.spaces.nb101.graph import (
    CONV1X1,
    CONV3X3,
    INPUT,
    MAX_EDGES,
    MAX_VERTICES,
    MAXPOOL3X3,
    OPS,
    OUTPUT,
    CellSpec,
    prune,
    spec_hash,
    validate,
)

__all__ = [
    "CONV1X1",
    "CONV3X3",
    "INPUT",
    "MAX_EDGES",
    "MAX_VERTICES",
    "MAXPOOL3X3",
    "OPS",
    "OUTPUT",
    "CellSpec",
    "prune",
    "spec_hash",
    "validate",
]
