"""The paper's Table 1 as data: each factor's group, name and config field, in the paper's order.

One declaration orders the report's factor rows and prints `wsnas list factors`; the values a
space supports come from the same declarations the config check uses (`SearchSpace.factors`
for the mapping and low-fidelity fields, `SearchSpace.samplers` for the sampler), so what is
listed is what a config may set.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from wsnas.config import RunConfig
from wsnas.spaces.base import SPACES, SearchSpace
from wsnas.spaces.factors import ANY, SECTIONS, TRAINING_SECTIONS, need_text, show
from wsnas.spaces.samplers import SAMPLERS


@dataclass(frozen=True)
class Table1Row:
    group: str
    factor: str
    """The paper's name of the factor."""
    field: str
    """The config field (`section.name`) that sets it."""
    beyond_paper: bool = False
    """A heuristic published after the paper (the report marks its rows so)."""


TABLE1: tuple[Table1Row, ...] = (
    Table1Row("hyper-parameters", "BN: track running stats", "mapping.bn_track_running_stats"),
    Table1Row("hyper-parameters", "BN: affine", "mapping.bn_affine"),
    Table1Row("hyper-parameters", "learning rate", "protocol.lr"),
    Table1Row("hyper-parameters", "epochs", "protocol.epochs"),
    Table1Row("hyper-parameters", "weight decay", "protocol.weight_decay"),
    Table1Row("low fidelity", "batch size", "protocol.batch_size"),
    Table1Row("low fidelity", "train portion", "data.train_portion"),
    Table1Row("low fidelity", "number of channels", "lowfi.channels"),
    Table1Row("low fidelity", "number of layers (repeated cells)", "lowfi.cells_per_stage"),
    Table1Row("sampler", "Random-NAS / Random-A / FairNAS", "sampler.name"),
    Table1Row("mapping", "ops on edges vs nodes", "mapping.ops_on"),
    Table1Row("mapping", "WSBN", "mapping.wsbn"),
    Table1Row("mapping", "global dropout", "mapping.dropout_global"),
    Table1Row("mapping", "path dropout", "mapping.dropout_path"),
    Table1Row("mapping", "path dropout at: edges (paper) or cell (authors' code)", "mapping.dropout_path_at"),
    Table1Row("mapping", "dynamic channels", "mapping.dynamic_channels"),
    Table1Row("mapping", "OFA super-kernel", "mapping.super_kernel"),
    Table1Row(
        "beyond the paper",
        "landmark regularisation: M landmarks (Yu et al. 2021)",
        "landmark.num_archs",
        beyond_paper=True,
    ),
    Table1Row(
        "beyond the paper",
        "few-shot super-nets: split edges (Zhao et al. 2021)",
        "fewshot.split",
        beyond_paper=True,
    ),
)
"""Table 1 of the paper, in its order (hyper-parameters, low fidelity, sampler, mapping f_ws); the
row after path dropout is where it drops (the paper's text and the authors' code differ). The last
rows are training heuristics published after the paper (`beyond_paper`).
"""

TABLE1_FIELDS = tuple(r.field for r in TABLE1)
BEYOND_PAPER = frozenset(r.field for r in TABLE1 if r.beyond_paper)
"""Fields of factors the paper did not study: the report marks their rows."""

VALUE_TEXT = {"fewshot.split": "edge indices (0 / 0,3), default (the space's edge) or off"}
"""What the config accepts, where the type alone would not say it."""


def table1_rank(field: str) -> tuple[int, int, str]:
    """Sort key: Table 1's fields in its order, then every other config field in config order."""
    if field in TABLE1_FIELDS:
        return (0, TABLE1_FIELDS.index(field), field)
    fields = list(_config_fields())
    return (1, fields.index(field) if field in fields else len(fields), field)


def _config_fields(model: type[BaseModel] = RunConfig, prefix: str = "") -> dict[str, Any]:
    """Dotted config field -> its pydantic FieldInfo, in config order."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.update(_config_fields(ann, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = info
    return out


SAMPLER_ORDER = tuple(SearchSpace.samplers)
"""The samplers in the paper's order (Random-NAS, Random-A, FairNAS); others follow by name."""


def choices(field: str) -> list[str] | None:
    """The values of an enumerated FIELD in declaration order (sampler: the paper's); None otherwise."""
    if field == "sampler.name":
        return [*SAMPLER_ORDER, *(n for n in SAMPLERS.names() if n not in SAMPLER_ORDER)]
    info = _config_fields().get(field)
    if info is None:
        return None
    if typing.get_origin(info.annotation) is typing.Literal:
        return [show(v) for v in typing.get_args(info.annotation)]
    return ["false", "true"] if info.annotation is bool else None


def config_values(field: str) -> str:
    """What the config accepts for FIELD: the choices of a Literal or bool, else type and bounds."""
    if field in VALUE_TEXT:
        return VALUE_TEXT[field]
    if choices(field) is not None:
        return ", ".join(choices(field) or [])
    info = _config_fields()[field]
    ann = info.annotation
    bounds = []
    for m in info.metadata:
        for attr, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            if getattr(m, attr, None) is not None:
                bounds.append(f"{op} {getattr(m, attr)}")
    kind = getattr(ann, "__name__", str(ann))
    return kind + (f" ({', '.join(bounds)})" if bounds else "")


@dataclass(frozen=True)
class Support:
    """How a space honours a Table 1 field: the values that act (None: every accepted value) and
    the (field=value) conditions a non-default value needs."""

    values: tuple[str, ...] | None = None
    needs: tuple[str, ...] = ()

    def accepts(self, value: str) -> bool:
        return self.values is None or value in self.values

    def text(self) -> str:
        parts = [] if self.values is None else [", ".join(self.values)]
        parts += [f"non-default needs {n}" for n in self.needs]
        return "; ".join(parts)


def space_support(space: SearchSpace, field: str) -> Support | None:
    """How FIELD acts on SPACE; None when only the default is accepted there (the factor does not
    exist in that space)."""
    if field == "sampler.name":
        runs = [n for n in SAMPLERS.names() if n in space.samplers or SAMPLERS.get(n).any_space]
        every = set(runs) >= set(SAMPLERS.names())
        return Support(None if every else tuple(runs))
    section = field.split(".", 1)[0]
    if section not in SECTIONS and section not in TRAINING_SECTIONS:
        return Support()  # protocol and data fields act on every space's training
    decl = (space.training_factors if section in TRAINING_SECTIONS else space.factors).get(field)
    if decl is None:
        return None
    values = None if decl.values is ANY else tuple(show(v) for v in decl.values)
    if values is not None and set(values) == set(config_values(field).split(", ")):
        values = None
    return Support(values, tuple(need_text(k, v) for k, v in decl.requires))


def factor_lines() -> list[str]:
    """One line per Table 1 factor: group, name, config field, accepted values, supporting spaces."""
    spaces = [SPACES.get(n)() for n in SPACES.names()]
    rows = []
    for r in TABLE1:
        where = []
        for s in spaces:
            got = space_support(s, r.field)
            if got is not None:
                where.append(f"{s.name} ({got.text()})" if got.text() else s.name)
        rows.append((f"{r.group}: {r.factor}", r.field, config_values(r.field), ", ".join(where) or "none"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return [f"{a:{widths[0]}}  {b:{widths[1]}}  {c:{widths[2]}}  spaces: {d}" for a, b, c, d in rows]


# ---- "beyond the paper": rows a study adds to what the paper reports -------------------------------

PAPER_SPACES = ("nb101", "nb201", "darts_nds")
"""The benchmarks of the paper's tables; a stand-in space (nb201_mini) makes no claim about the paper."""


@dataclass(frozen=True)
class PaperScope:
    """Where the paper reports a factor: SPACES (empty: nowhere, a factor the paper does not have)."""

    field: str
    spaces: tuple[str, ...]
    why: str


PAPER_SCOPES: tuple[PaperScope, ...] = (
    PaperScope(
        "sampler.name",
        ("nb101", "nb201"),
        "the paper reports samplers (Random-NAS, Random-A, FairNAS) on NASBench-101 and NASBench-201 only",
    ),
)
"""One declaration per factor the paper reports on some spaces only, or not at all. A factor added to
wsnas beyond the paper (a new config field) is declared here with `spaces=()`; a config field that is
not in TABLE1 and not declared is beyond the paper too. The report marks such rows."""


def beyond_paper(field: str, space: str) -> str | None:
    """Why a row varying FIELD on SPACE is beyond the paper; None when the paper reports it there, or
    when SPACE is not one of the paper's benchmarks (but a heuristic published after the paper,
    `Table1Row.beyond_paper`, is beyond it on every space)."""
    row = next((r for r in TABLE1 if r.field == field and r.beyond_paper), None)
    if row is not None:  # a heuristic published after the paper: beyond it on every space
        return f"{row.factor}: published after the paper"
    if space not in PAPER_SPACES:
        return None
    for s in PAPER_SCOPES:
        if s.field == field:
            return None if space in s.spaces else s.why
    if field not in TABLE1_FIELDS:
        return f"{field} is not a factor of the paper's Table 1"
    return None
