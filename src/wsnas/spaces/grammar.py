"""Token grammars: how a controller (ENAS's LSTM, NAO's encoder-decoder) writes a space's architectures.

A grammar is what a space tells the controller-based algorithms (`wsnas.algorithms.enas`, `nao`), so
the controllers themselves know nothing of any space. It fixes a sequence of positions, each choosing
one value among `choices[k]`, and maps a value sequence to an architecture (`decode`) and back
(`encode`); `valid` says whether a sequence is an architecture of the space at all.

Two shapes:
- an edge grammar (`layout` None): one op token per edge of a fixed cell, in the space's `edges`
  order (NB201 and its mini space; xautodl's NB201 controller);
- a node grammar (`NodeLayout`): per cell, per intermediate node, `pairs` (input, op) pairs, written
  (input_1, op_1, input_2, op_2, ...), where node i's input chooses among the `first_inputs` states
  before the cell's first node and the i nodes before it (ENAS's micro space and NAO's encoding of it,
  with two pairs per node and two cells; kcyu2014/eval-nas's NASBench-101 mapping, with one pair per
  node and one cell).

`token_grammar(space)` is the grammar of a space, or a `GrammarError` saying why it has none.
No torch here: the spaces' interface stays importable without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from wsnas.core.errors import ArchError
from wsnas.spaces.base import EdgeOpSpace

Values = tuple[int, ...]
INPUT, OP = "input", "op"


class GrammarError(ArchError):
    """A space has no token grammar (the controllers are refused on it, naming this reason)."""


@dataclass(frozen=True)
class NodeLayout:
    """The shape of a node-based token sequence."""

    cells: int
    """Cells written one after the other (DARTS: normal, then reduce)."""
    first_inputs: int
    """States before a cell's first node (DARTS: the two previous cells; NB101: the cell's input)."""
    nodes: int
    """Intermediate nodes per cell."""
    pairs: int
    """(input, op) pairs per node (DARTS: 2; eval-nas's NB101 mapping: 1)."""


class TokenGrammar:
    """Positions, their choices and the map between value sequences and architectures.

    Subclasses give `decode`, `encode` and, where some sequences are not architectures, `valid`.
    """

    name: str = ""
    reference: str = ""
    """Whose token sequence this is (docs/search.md)."""

    def __init__(self, ops: Sequence[str], layout: NodeLayout | None = None, slots: int = 0) -> None:
        self.ops: tuple[str, ...] = tuple(ops)
        self.layout = layout
        if layout is None:
            self.kinds: tuple[str, ...] = (OP,) * slots
            self.choices: tuple[int, ...] = (len(self.ops),) * slots
        else:
            kinds, choices = [], []
            for _ in range(layout.cells):
                for node in range(layout.nodes):
                    for _ in range(layout.pairs):
                        kinds += [INPUT, OP]
                        choices += [layout.first_inputs + node, len(self.ops)]
            self.kinds, self.choices = tuple(kinds), tuple(choices)

    # ---- shape -----------------------------------------------------------------------------------
    @property
    def length(self) -> int:
        """Positions in a sequence."""
        return len(self.choices)

    @property
    def max_inputs(self) -> int:
        """The most input choices of any position (0 for an edge grammar)."""
        return max((c for k, c in zip(self.kinds, self.choices, strict=True) if k == INPUT), default=0)

    @property
    def vocab(self) -> int:
        """NAO's vocabulary: a start symbol (0), the input tokens 1..max_inputs, then the op tokens
        (NAO_V1's and eval-nas's layout; an edge grammar has op tokens 1..len(ops) only)."""
        return 1 + self.max_inputs + len(self.ops)

    def token(self, position: int, value: int) -> int:
        """The vocabulary token of VALUE at POSITION."""
        return value + 1 + (self.max_inputs if self.kinds[position] == OP else 0)

    def value(self, position: int, token: int) -> int:
        return token - 1 - (self.max_inputs if self.kinds[position] == OP else 0)

    def token_range(self, position: int) -> tuple[int, int]:
        """[lo, hi): the tokens valid at POSITION (NAO's decoder takes its argmax among them)."""
        lo = self.token(position, 0)
        return lo, lo + self.choices[position]

    def tokens(self, values: Sequence[int]) -> list[int]:
        return [self.token(k, int(v)) for k, v in enumerate(values)]

    def values(self, tokens: Sequence[int]) -> Values:
        return tuple(self.value(k, int(t)) for k, t in enumerate(tokens))

    # ---- the map ---------------------------------------------------------------------------------
    def in_range(self, values: Sequence[int]) -> bool:
        return len(values) == self.length and all(
            0 <= int(v) < c for v, c in zip(values, self.choices, strict=True)
        )

    def valid(self, values: Sequence[int]) -> bool:
        """Whether VALUES (in range) write an architecture of the space (default: all do)."""
        return self.in_range(values)

    def decode(self, values: Sequence[int]) -> Any:
        """The architecture a valid value sequence writes."""
        raise NotImplementedError

    def encode(self, arch: Any) -> Values | None:
        """The value sequence of ARCH as given (its vertex order), or None where the grammar cannot
        write it (an NB101 cell that is not one of eval-nas's trees)."""
        raise NotImplementedError

    def random(self, rng: np.random.Generator) -> Values:
        """A valid sequence, every position uniform, redrawn until valid (NAO's `generate_arch`)."""
        while True:
            values = tuple(int(rng.integers(c)) for c in self.choices)
            if self.valid(values):
                return values

    def equivalent(self, values: Values, rng: np.random.Generator) -> Values:
        """Another sequence of the same network, drawn at random (NAO's augmented copies)."""
        return values

    def op_names(self, arch: Any) -> list[str]:
        """The ops ARCH's sequence chooses, one per op position."""
        values = self.encode(arch)
        if values is None:
            return []
        return [self.ops[v] for v, k in zip(values, self.kinds, strict=True) if k == OP]

    param_free: frozenset[str] = frozenset()
    """Ops without weights (the parameter-free share of a derived cell)."""
    favoured: tuple[str, ...] = ()
    """Ops ENAS's micro controller starts biased towards (its separable convolutions; eval-nas's NB101
    convolutions), `wsnas.algorithms.controller.NodeController`."""

    def describe(self) -> dict[str, Any]:
        return {
            "grammar": self.name,
            "reference": self.reference,
            "length": self.length,
            "vocab": self.vocab,
            "layout": None if self.layout is None else vars(self.layout),
        }


class EdgeGrammar(TokenGrammar):
    """One op token per edge (an `EdgeOpSpace`'s encodings themselves)."""

    name = "edge"
    reference = "xautodl's NB201 controller (models/cell_searchs/search_model_enas_utils.py)"
    param_free = frozenset({"none", "skip_connect", "avg_pool_3x3", "max_pool_3x3"})

    def __init__(self, space: Any) -> None:
        super().__init__(space.ops, slots=len(space.edges))
        self.space = space
        self._classes: dict[str, Any] | None = None

    def decode(self, values: Sequence[int]) -> Values:
        return tuple(int(v) for v in values)

    def encode(self, arch: Any) -> Values:
        return tuple(int(o) for o in arch)

    def equivalent(self, values: Values, rng: np.random.Generator) -> Values:
        """A uniformly drawn encoding of the same cell (the space's isomorphism classes)."""
        if self._classes is None:
            ids, members = self.space.unique_classes()
            self._classes = dict(zip(ids, members, strict=True))
        same = self._classes[self.space.canonical(values)]
        return tuple(int(o) for o in same[int(rng.integers(len(same)))])


def token_grammar(space: Any) -> TokenGrammar:
    """The space's grammar: an edge grammar for an `EdgeOpSpace`, else the space's own
    `token_grammar()`; a GrammarError naming why there is none."""
    if isinstance(space, EdgeOpSpace):
        return EdgeGrammar(space)
    own = getattr(space, "token_grammar", None)
    if own is None:
        raise GrammarError(
            f"{space.name} gives no token grammar (SearchSpace.token_grammar: how a controller writes "
            f"its architectures as a token sequence)"
        )
    grammar: TokenGrammar = own()
    return grammar
