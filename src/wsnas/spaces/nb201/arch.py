"""NAS-Bench-201 arch strings, encodings and the benchmark's unique-cell rule (the codec).

An encoding is a tuple of 6 op indices, one per edge in `EDGES` order, which is
the order the edges appear in the official string
`|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`.
"""

from __future__ import annotations

from functools import cache
from itertools import product

from wsnas.core.errors import ArchError, did_you_mean
from wsnas.spaces.base import group_by_canonical

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NUM_NODES = 4
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
"""(source, target) per edge, in string order."""

Arch = tuple[int, ...]


def parse_arch(text: str) -> Arch:
    """Parse an official arch string; errors say what is wrong and where."""
    s = text.strip()
    nodes = s.split("+")
    if len(nodes) != NUM_NODES - 1:
        raise ArchError(
            f"NB201 arch {text!r}: expected {NUM_NODES - 1} nodes separated by '+', found {len(nodes)}"
        )
    ops: list[int] = []
    for node, part in enumerate(nodes, start=1):
        if not (part.startswith("|") and part.endswith("|")) or len(part) < 2:
            raise ArchError(f"NB201 arch {text!r}: node {node} {part!r} must look like |op~src|...|")
        terms = part[1:-1].split("|")
        if len(terms) != node:
            raise ArchError(f"NB201 arch {text!r}: node {node} must have {node} inputs, found {len(terms)}")
        for expect_src, term in enumerate(terms):
            op, sep, src = term.partition("~")
            if not sep:
                raise ArchError(f"NB201 arch {text!r}: node {node} term {term!r} lacks '~source'")
            if op not in OPS:
                raise ArchError(
                    f"NB201 arch {text!r}: node {node} has unknown op {op!r}; "
                    f"ops are {', '.join(OPS)}{did_you_mean(op, OPS)}"
                )
            if src != str(expect_src):
                raise ArchError(
                    f"NB201 arch {text!r}: node {node} input {expect_src + 1} has source "
                    f"{src!r}, expected {expect_src} (inputs are listed from node 0 up)"
                )
            ops.append(OPS.index(op))
    return tuple(ops)


def format_arch(arch: Arch) -> str:
    """Encoding -> official arch string."""
    check_encoding(arch)
    parts, i = [], 0
    for node in range(1, NUM_NODES):
        terms = [f"{OPS[arch[i + s]]}~{s}" for s in range(node)]
        i += node
        parts.append("|" + "|".join(terms) + "|")
    return "+".join(parts)


def check_encoding(arch: Arch) -> None:
    if len(arch) != len(EDGES) or any(not 0 <= int(o) < len(OPS) for o in arch):
        raise ArchError(f"NB201 encoding {arch!r}: need {len(EDGES)} op indices in 0..{len(OPS) - 1}")


def arch_to_index(arch: Arch) -> int:
    """Position in this package's enumeration (base-5 digits, edge 0 most significant)."""
    idx = 0
    for o in arch:
        idx = idx * len(OPS) + int(o)
    return idx


def index_to_arch(idx: int) -> Arch:
    if not 0 <= idx < len(OPS) ** len(EDGES):
        raise ArchError(f"NB201 encoding index {idx} out of range 0..{len(OPS) ** len(EDGES) - 1}")
    digits = []
    for _ in EDGES:
        idx, d = divmod(idx, len(OPS))
        digits.append(d)
    return tuple(reversed(digits))


def canonical_id(arch: Arch) -> str:
    """The benchmark's own unique-cell id (docs/background.md#unique-cells).

    Node 0 is '0'; an edge contributes '#' if its op is none or its source is
    '#', the source's expression for skip_connect, else '(src)@op'; a node's
    expression is its terms sorted as strings and joined by '+'.
    """
    check_encoding(arch)
    expr = ["0"]
    i = 0
    for node in range(1, NUM_NODES):
        terms = []
        for src in range(node):
            op = OPS[arch[i]]
            i += 1
            if op == "none" or expr[src] == "#":
                terms.append("#")
            elif op == "skip_connect":
                terms.append(expr[src])
            else:
                terms.append(f"({expr[src]})@{op}")
        expr.append("+".join(sorted(terms)))
    return expr[-1]


@cache
def all_archs() -> tuple[Arch, ...]:
    return tuple(product(range(len(OPS)), repeat=len(EDGES)))


@cache
def unique_classes() -> tuple[tuple[str, ...], tuple[tuple[Arch, ...], ...]]:
    """(sorted canonical ids, the encodings of each id)."""
    return group_by_canonical(all_archs(), canonical_id)
