"""nb201_mini's codec: 3-node NB201 cells, their strings, and the embedding into NB201's cell."""

from __future__ import annotations

from functools import cache
from itertools import product
from typing import Any

from wsnas.core.errors import ArchError
from wsnas.spaces.base import group_by_canonical
from wsnas.spaces.nb201 import arch as nb201

OPS = nb201.OPS
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2))
TAIL: tuple[int, ...] = (nb201.OPS.index("none"), nb201.OPS.index("none"), nb201.OPS.index("skip_connect"))
"""NB201 ops of edges 0->3, 1->3, 2->3 in the embedding."""

Arch = tuple[int, int, int]


def embed(arch: Any) -> nb201.Arch:
    """Mini encoding -> the equivalent NB201 encoding (node 3 = node 2)."""
    a = tuple(int(o) for o in arch)
    if len(a) != len(EDGES) or any(not 0 <= o < len(OPS) for o in a):
        raise ArchError(f"nb201_mini encoding {arch!r}: need {len(EDGES)} op indices in 0..{len(OPS) - 1}")
    return a + TAIL


def parse_arch(text: str) -> Arch:
    """`|op~0|+|op~0|op~1|` -> encoding; errors say what is wrong."""
    s = text.strip()
    if s.count("+") != 1:
        raise ArchError(
            f"nb201_mini arch {text!r}: expected 2 nodes separated by '+' "
            f"(e.g. |nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|)"
        )
    try:
        full = nb201.parse_arch(f"{s}+|none~0|none~1|skip_connect~2|")
    except ArchError as e:
        raise ArchError(str(e).replace("NB201 arch", "nb201_mini arch (as NB201)")) from None
    return full[:3]  # type: ignore[return-value]


def format_arch(arch: Any) -> str:
    return nb201.format_arch(embed(arch)).rsplit("+", 1)[0]


@cache
def unique_classes() -> tuple[tuple[str, ...], tuple[tuple[Arch, ...], ...]]:
    """(sorted canonical ids, the encodings of each)."""
    archs = product(range(len(OPS)), repeat=len(EDGES))
    return group_by_canonical(archs, lambda a: nb201.canonical_id(embed(a)))
