"""The paper's Table 5, measured: each method on each space next to the number its paper published.

A row is a setting (`report.settings`: runs that differ only in their seed, with one identity), so
runs of different identities (another ground-truth file, numerics, world size) are different rows
and are never averaged. A row's method is its search algorithm (`algorithm.name`), or its sampler
for a run trained by a sampler alone (Random-NAS). Its protocol is `tuned` when its super-net
protocol (`PROTOCOL_KEYS`: the lr schedule, epochs, batch, weight decay, BN mode) equals the
scope's tuned Random-NAS setting's, and `own` otherwise, shown with what departs from the tuned
one. The tuned Random-NAS setting is the scope's baseline when that is a Random-NAS setting: a
sweep's `base` runs (the Table 5 specs put the tuned protocol in their base) or a paper-mode
study's tuned baseline.

Measured, per row: the final searched model's GT (an algorithm: its derived architecture at the
last epoch; a sampler: the paper's mean GT of the pool's top k by super-net accuracy), the
super-net's s-KdT and P>R (its one-shot ranking of the pool), the median seconds of a training
epoch (log.jsonl; with an algorithm's end-of-epoch phase), each as mean ± std over the seeds.
Published, in columns of their own: the number the method's paper gives for the space under
the matching protocol (`published_table5.json`, with its source and the protocol its row used),
never averaged with a measured one. Published methods a space has no row for are listed with
their published number alone.

A scope enters the table when it is a Table 5 study: it holds a run with a search algorithm, or
its settings are Random-NAS settings that differ only in their super-net protocol (a study of the
two Random-NAS protocols alone).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from wsnas.report.analysis import SpaceAnalysis
from wsnas.report.runs import IDENTITY_KEY, RunRecord, show
from wsnas.report.settings import Setting, Stat, space_title
from wsnas.report.tables import Table

PUBLISHED_FILE = "published_table5.json"
PROTOCOL_KEYS = {
    "protocol.lr": "lr",
    "protocol.lr_min": "lr_min",
    "protocol.epochs": "epochs",
    "protocol.batch_size": "batch",
    "protocol.weight_decay": "wd",
    "protocol.momentum": "momentum",
    "protocol.grad_clip": "clip",
    "mapping.bn_affine": "BN affine",
    "mapping.bn_track_running_stats": "BN running stats",
}
"""The super-net protocol a Table 5 row is trained with, and its short name in the protocol column."""
METHOD_NAMES = {
    "random_nas": "Random-NAS",
    "random_a": "Random-A",
    "fairnas": "FairNAS",
    "enas": "ENAS",
    "darts_v1": "DARTS-V1",
    "darts_v2": "DARTS-V2",
    "gdas": "GDAS",
    "setn": "SETN",
    "nao": "NAO",
    "drnas": "DrNAS",
}
"""The names the papers use; methods are listed in this order (samplers first)."""
TUNED, OWN = "tuned", "own"
NOT_RUN = "not run here (published only)"


@dataclass(frozen=True)
class Published:
    """One published number: a method's final searched model on a space, as its source gives it."""

    space: str
    method: str
    protocol: str
    """`tuned` (the paper's tuned protocol) or `own` (the method's reference settings)."""
    label: str
    value: float
    std: float | None
    source: str
    """The source's short citation (`Yu et al. 2020, Table 5`)."""
    protocol_short: str
    protocol_text: str

    def text(self) -> str:
        v = f"{self.value:.2f}" + (f" ± {self.std:.2f}" if self.std is not None else "")
        return f"{v} ({self.source})"


@cache
def published() -> tuple[Published, ...]:
    """The shipped published numbers (`wsnas/report/published_table5.json`)."""
    doc = json.loads(resources.files("wsnas.report").joinpath(PUBLISHED_FILE).read_text())
    return tuple(parse_published(doc))


def parse_published(doc: dict[str, Any]) -> list[Published]:
    sources = doc["sources"]
    return [
        Published(
            e["space"],
            e["method"],
            e["protocol"],
            e["label"],
            float(e["value"]),
            None if e.get("std") is None else float(e["std"]),
            sources[e["source"]]["short"],
            e["protocol_short"],
            e["protocol_text"],
        )
        for e in doc["entries"]
    ]


def method_of(s: Setting) -> str:
    """The row's method: the search algorithm, or the sampler of a run trained by a sampler alone."""
    cfg = s.runs[0].cfg
    return cfg.algorithm.name if cfg.algorithm.name != "none" else cfg.sampler.name


def method_name(method: str) -> str:
    return METHOD_NAMES.get(method, method)


def method_order(method: str) -> tuple[int, str]:
    names = list(METHOD_NAMES)
    return (names.index(method) if method in names else len(names), method)


def _signature(s: Setting) -> tuple[str, ...]:
    return tuple(s.value(k) for k in PROTOCOL_KEYS)


def tuned_setting(a: SpaceAnalysis) -> Setting | None:
    """The scope's tuned Random-NAS setting: its baseline, when that is a Random-NAS setting."""
    return a.baseline if method_of(a.baseline) == "random_nas" else None


def protocol_of(s: Setting, tuned: Setting | None) -> tuple[str, str]:
    """(`tuned` or `own`, the protocol as the table shows it: `tuned`, or what departs from it)."""
    if tuned is not None and _signature(s) == _signature(tuned):
        return TUNED, TUNED
    if tuned is None:
        return OWN, OWN
    diff = [
        f"{name}={_flag(s.experiment.get(k))}"
        for k, name in PROTOCOL_KEYS.items()
        if s.value(k) != tuned.value(k)
    ]
    return OWN, f"{OWN}: " + ", ".join(diff)


def _flag(v: Any) -> str:
    return {True: "on", False: "off"}.get(v, show(v)) if isinstance(v, bool) else show(v)


def row_name(s: Setting, tuned: Setting | None) -> str:
    """`DARTS-V2, tuned` / `DARTS-V2, own settings`: a setting as Table 5 and its figure name it."""
    kind = protocol_of(s, tuned)[0]
    return f"{method_name(method_of(s))}, {'tuned' if kind == TUNED else 'own settings'}"


def is_table5_scope(a: SpaceAnalysis) -> bool:
    """A Table 5 study: a search-algorithm run, or Random-NAS settings differing only in protocol."""
    if any(s.runs[0].cfg.algorithm.name != "none" for s in a.settings):
        return True
    protocol_only = set(a.varying) <= {*PROTOCOL_KEYS, IDENTITY_KEY}
    has_published = any(p.space == a.space for p in published())
    return (
        has_published
        and protocol_only
        and len(a.settings) > 1
        and all(method_of(s) == "random_nas" for s in a.settings)
    )


def _num(v: Any) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else math.nan


def final_gt(r: RunRecord) -> float:
    """The final searched model's GT: the derived architecture's (an algorithm) or the top-k mean."""
    if r.cfg.algorithm.name == "none":
        return r.metric("final_acc")
    a = r.summary.get("algorithm")
    return _num(a.get("final_searched_gt")) if isinstance(a, dict) and r.finished else math.nan


def epoch_seconds(r: RunRecord) -> float:
    """Median seconds of the run's training epochs (log.jsonl; an algorithm's phase after the weight
    steps included, evaluations not); NaN where the log has none."""
    try:
        secs = [_num(e.get("seconds")) for e in r.run.epochs]
    except (OSError, ValueError):
        return math.nan
    secs = [x for x in secs if math.isfinite(x)]
    return float(np.median(secs)) if secs else math.nan


TEXT = (
    "space",
    "method",
    "protocol",
    "final model",
    "published GT (source)",
    "published protocol",
    "setting",
)
"""Columns of text: left-aligned on the page, wrapped where long."""
HEADER = [
    "space",
    "method",
    "protocol",
    "runs",
    "final searched model GT (measured)",
    "final model",
    "super-net s-KdT",
    "P>R",
    "s/epoch",
    "published GT (source)",
    "published protocol",
    "setting",
]
"""Markdown and HTML columns; the setting (its label in the report's other tables) comes last."""
TEXT_COLUMNS = tuple(HEADER.index(c) for c in HEADER if c in TEXT)
CSV_HEADER = [
    "space",
    "dataset",
    "method",
    "protocol",
    "protocol_detail",
    "setting",
    "runs",
    "final_gt_mean",
    "final_gt_std",
    "final_model",
    "skdt_mean",
    "skdt_std",
    "pbr_mean",
    "pbr_std",
    "seconds_per_epoch",
    "published_value",
    "published_std",
    "published_source",
    "published_protocol",
]


def _published_cells(found: list[Published]) -> tuple[list[Any], list[str]]:
    if not found:
        return [math.nan, math.nan, "", ""], ["–", "–"]
    csv = [
        found[0].value if len(found) == 1 else "; ".join(f"{p.value}" for p in found),
        found[0].std if len(found) == 1 and found[0].std is not None else math.nan,
        "; ".join(p.source for p in found),
        "; ".join(p.protocol_text for p in found),
    ]
    return csv, ["; ".join(p.text() for p in found), "; ".join(p.protocol_short for p in found)]


def _rows(a: SpaceAnalysis) -> tuple[list[list[Any]], list[list[str]]]:
    tuned = tuned_setting(a)
    pubs = [p for p in published() if p.space == a.space]
    keyed = []
    for s in a.settings:
        kind, detail = protocol_of(s, tuned)
        keyed.append(((method_order(method_of(s)), kind != TUNED, s.label or s.key), s, kind, detail))
    csv_rows: list[list[Any]] = []
    rows: list[list[str]] = []
    shown: set[Published] = set()
    for _, s, kind, detail in sorted(keyed, key=lambda x: x[0]):
        runs = s.finished
        method = method_of(s)
        gt = Stat.of(final_gt(r) for r in runs)
        skdt = Stat.of(r.metric("skdt") for r in runs)
        pbr = Stat.of(r.metric("pbr") for r in runs)
        secs = Stat.of(epoch_seconds(r) for r in runs)
        what = "derived architecture" if s.runs[0].cfg.algorithm.name != "none" else f"{a.top_k} by super-net"
        found = [p for p in pubs if p.method == method and p.protocol == kind]
        shown.update(found)
        pub_csv, pub_html = _published_cells(found)
        csv_rows.append(
            [a.space, a.dataset, method_name(method), kind, detail, s.label or s.key, len(runs)]
            + [gt.mean, gt.std, what, skdt.mean, skdt.std, pbr.mean, pbr.std, secs.mean, *pub_csv]
        )
        rows.append(
            [space_title(a.space), method_name(method), detail, str(len(runs))]
            + [
                gt.text(2),
                what,
                skdt.text(3),
                pbr.text(3),
                secs.text(1),
                *pub_html,
                _wrappable(s.label or s.key),
            ]
        )
    for p in sorted(set(pubs) - shown, key=lambda p: (method_order(p.method), p.protocol)):
        pub_csv, pub_html = _published_cells([p])
        kind = p.protocol
        csv_rows.append(
            [a.space, a.dataset, method_name(p.method), kind, kind, "", 0]
            + [math.nan, math.nan, "", math.nan, math.nan, math.nan, math.nan, math.nan, *pub_csv]
        )
        rows.append(
            [space_title(a.space), method_name(p.method), kind, "0"]
            + ["–", "–", "–", "–", "–", *pub_html, NOT_RUN]
        )
    return csv_rows, rows


def _wrappable(label: str) -> str:
    """LABEL with a space after each comma, so a page can wrap it between its key=value parts."""
    return re.sub(r",(?=\S)", ", ", label)


def table5(analyses: list[SpaceAnalysis]) -> Table | None:
    """The measured Table 5 of every Table 5 scope, published numbers beside; None without one."""
    csv_rows: list[list[Any]] = []
    rows: list[list[str]] = []
    for a in analyses:
        if is_table5_scope(a):
            c, h = _rows(a)
            csv_rows += c
            rows += h
    if not rows:
        return None
    return Table(
        "table5",
        "Table 5: each method trained by wsnas, next to its published number",
        CSV_HEADER,
        csv_rows,
        HEADER,
        rows,
        "Measured by wsnas (every column up to s/epoch; mean ± std over seeds, one row per setting, so "
        "runs of different identities are never averaged): final searched model = an algorithm's "
        "derived architecture at the last epoch, or for Random-NAS the paper's mean GT of the pool's "
        "top k by super-net accuracy; s-KdT and P>R rank the pool by the super-net's one-shot accuracy; "
        "s/epoch = median training epoch (an algorithm's end-of-epoch phase included) on the run's "
        "device. Protocol: `tuned` = the super-net protocol of the tuned Random-NAS row (the sweep's "
        "base), `own` = what departs from it (the reference's settings in the Table 5 specs). "
        "Published (its own columns, never averaged with a measured value): the number the method's "
        "paper gives for the space and protocol, with its source; wsnas/report/published_table5.json "
        "says where each comes from and the protocol it used; rows 'not run here' are published only. "
        "Stand-in spaces (NB201-mini) have no published numbers. docs/published-numbers.md.",
        left=TEXT_COLUMNS,
    )
