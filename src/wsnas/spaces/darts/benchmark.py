"""DARTS-NDS ground truth from the NDS release's DARTS-family JSON files.

`DARTS.json`, `DARTS_fix-w-d.json`, `DARTS_lr-wd.json`, `DARTS_in.json`, ... (the
NDS release, read as published: see docs/background.md#darts-nds) hold a JSON list of
trained models, or a dict {"top": [...], "mid": [...]} of two such lists (read
top first, then mid). Each model has `net: {genotype: {normal, normal_concat,
reduce, reduce_concat}, width, depth, aux, drop_prob}`, `optim: {base_lr, wd,
max_ep}`, `rng_seed`, per-epoch `train_ep_top1` / `test_ep_top1` (top-1 *error*
in %), and `params` / `flops` as raw counts (NDS and NNI's importer divide them
by 1e6; the table stores millions).

Metrics: "test" (the paper's GT) = 100 - final `test_ep_top1`; "train" = 100 -
final `train_ep_top1`. A model whose final error is NaN/inf is skipped (counted
in the metadata); one outside [0, 100] is an error.

Macro setting (the "schedule" of this table): NDS trains each genotype in one
(width, depth) setting, which DARTS.json draws per model and the fix-w-d file
fixes. The super-net is trained at the macro setting the user picks, so the
ground truth must be that setting's:
- schedule "w{W}d{D}" (e.g. "w16d8") keeps only the models of width W, depth D;
- schedule "all" (the default) keeps every model; right for files with one
  setting (fix-w-d) and for NDS's own mixed-size analysis of DARTS.json.
Models of the same genotype (exact encoding) and the same training setting
(width, depth, aux, drop_prob, base_lr, wd, max_ep) are repeats: their GT,
params and flops are averaged into one row. If the kept models train one
genotype under several settings, the table would hold two rows with one arch
string: that is an error naming the genotype and the settings, asking for a
narrower "w{W}d{D}" schedule.

Rows: one per genotype in order of its first model; `index` = that model's
position in the file (top before mid, counted from 0), `arch` =
`format_genotype`, `canonical` = `canonical_id`. The metadata record the macro
settings kept (`macro_settings` model counts; `width`/`depth` when there is one,
else `row_width`/`row_depth` per row), repeat counts and skipped models.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsnas.core.errors import ArchError, BenchmarkError, did_you_mean
from wsnas.groundtruth.loaders import BenchLoader, cifar10_only, metric_from_aliases
from wsnas.groundtruth.table import Benchmark
from wsnas.spaces.darts.genotype import FIELDS, Genotype, canonical_id, format_genotype, make_genotype

DEFAULT_METRIC = "test"
DEFAULT_SCHEDULE = "all"
METRICS: dict[str, str] = {"test": "test_ep_top1", "train": "train_ep_top1"}
"""Metric -> per-epoch top-1 error list; GT = 100 - its final entry."""
_ALIASES: dict[str, str] = {
    "test_ep_top1": "test",
    "test_acc": "test",
    "test_accuracy": "test",
    "final_test_acc": "test",
    "train_ep_top1": "train",
    "train_acc": "train",
    "train_accuracy": "train",
    "final_train_acc": "train",
}
SOURCES = "an NDS DARTS-family JSON file (DARTS.json, DARTS_fix-w-d.json, DARTS_lr-wd.json, ...)"
_MACRO_RE = re.compile(r"w(\d+)d(\d+)\Z")


def normalize_metric(metric: str) -> str:
    """'test' or 'train' (NDS field names and 'cifar10/' prefix accepted)."""
    m = str(metric).strip().lower().removeprefix("cifar10/")
    return metric_from_aliases(metric, m, METRICS, _ALIASES, "DARTS-NDS")


def macro_key(width: int, depth: int) -> str:
    """The schedule key of a macro setting, e.g. 'w16d8'."""
    return f"w{width}d{depth}"


def parse_schedule(schedule: str, where: str) -> tuple[int, int] | None:
    """None for 'all', else (width, depth) of a 'w{W}d{D}' key; BenchmarkError otherwise."""
    s = str(schedule).strip()
    if s == "all":
        return None
    m = _MACRO_RE.match(s)
    if not m:
        raise BenchmarkError(
            f"{where}: DARTS-NDS schedule {schedule!r} is not 'all' nor a macro setting "
            f"'w<width>d<depth>' such as 'w16d8' (the width and depth of the NDS networks to keep)"
        )
    return int(m.group(1)), int(m.group(2))


# -- reading the file ------------------------------------------------------------------


def load_models(path: Path) -> tuple[list[tuple[str, Any]], str]:
    """([(model label, model), ...], layout) from a list or {top, mid} file."""
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except OSError as e:
        raise BenchmarkError(f"{path}: cannot read ({e.strerror or e})") from None
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError
        raise BenchmarkError(f"{path}: not valid JSON ({e}); expected {SOURCES}") from None
    if isinstance(data, list):
        models, layout = [(f"model {k}", m) for k, m in enumerate(data)], "list"
    elif isinstance(data, dict):
        parts = [p for p in ("top", "mid") if p in data]
        if not parts:
            keys = ", ".join(sorted(map(str, data))[:8]) or "none"
            raise BenchmarkError(
                f"{path}: a JSON object without 'top'/'mid' lists (keys: {keys}); expected a list of "
                f"models or {{'top': [...], 'mid': [...]}}"
            )
        models = []
        for p in parts:
            if not isinstance(data[p], list):
                raise BenchmarkError(f"{path}: '{p}' is a {type(data[p]).__name__}, not a list of models")
            models.extend((f"model {p}[{k}]", m) for k, m in enumerate(data[p]))
        layout = "+".join(parts)
    else:
        raise BenchmarkError(f"{path}: holds a JSON {type(data).__name__}; expected {SOURCES}")
    if not models:
        raise BenchmarkError(f"{path}: no models (empty {layout}); expected {SOURCES}")
    return models, layout


def _get(obj: Any, key: str, where: str) -> Any:
    if not isinstance(obj, dict):
        raise BenchmarkError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if key not in obj:
        found = ", ".join(sorted(map(str, obj))[:12]) or "none"
        raise BenchmarkError(f"{where}: missing key {key!r} (keys: {found})")
    return obj[key]


def _int(x: Any, what: str, where: str) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or x != int(x) or x <= 0:
        raise BenchmarkError(f"{where}: {what} {x!r} is not a positive integer")
    return int(x)


def _number(x: Any, what: str, where: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise BenchmarkError(f"{where}: {what} {x!r} is not a number")
    return float(x)


def _final_error(curve: Any, field_name: str, where: str) -> float:
    if not isinstance(curve, list) or not curve:
        raise BenchmarkError(f"{where}: {field_name} must be a non-empty list of per-epoch errors")
    err = _number(curve[-1], f"final {field_name}", where)
    if math.isfinite(err) and not 0.0 <= err <= 100.0:
        raise BenchmarkError(f"{where}: final {field_name} = {err!r} is not a top-1 error in [0, 100]")
    return err


@dataclass
class _Group:
    """Repeats of one genotype under one training setting."""

    index: int
    genotype: Genotype
    setting: tuple[Any, ...]
    acc: list[float] = field(default_factory=list)
    params: list[float] = field(default_factory=list)
    flops: list[float] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


def _plain(x: Any) -> Any:
    """A hashable stand-in for a setting value (JSON text for lists/objects)."""
    return x if x is None or isinstance(x, (bool, int, float, str)) else json.dumps(x, sort_keys=True)


def _setting_str(setting: tuple[Any, ...]) -> str:
    w, d, aux, drop, lr, wd, ep = setting
    return f"{macro_key(w, d)} aux={aux} drop_prob={drop} lr={lr} wd={wd} epochs={ep}"


def read_darts_nds(source: Path, metric: str, schedule: str) -> Benchmark:
    """A Benchmark of METRIC at SCHEDULE ('all' or 'w{W}d{D}') from an NDS DARTS-family file."""
    source = Path(source)
    where = str(source)
    metric = normalize_metric(metric)
    want = parse_schedule(schedule, where)
    if source.is_dir():
        raise BenchmarkError(f"{where}: is a folder; expected {SOURCES}")
    if not source.is_file():
        raise BenchmarkError(f"{where}: no such file; expected {SOURCES}")
    models, layout = load_models(source)
    curve_key = METRICS[metric]
    groups: dict[tuple[str, tuple[Any, ...]], _Group] = {}
    settings_of: dict[str, list[tuple[Any, ...]]] = {}
    all_macros: Counter[str] = Counter()
    kept_macros: Counter[str] = Counter()
    skipped: list[str] = []
    matched = 0
    for k, (label, model) in enumerate(models):
        at = f"{where}: {label}"
        net = _get(model, "net", at)
        width = _int(_get(net, "width", f"{at} net"), "net.width", at)
        depth = _int(_get(net, "depth", f"{at} net"), "net.depth", at)
        all_macros[macro_key(width, depth)] += 1
        if want is not None and (width, depth) != want:
            continue
        matched += 1
        raw = _get(net, "genotype", f"{at} net")
        if not isinstance(raw, dict):
            raise BenchmarkError(f"{at}: net.genotype is a {type(raw).__name__}, not a JSON object")
        try:  # keys beyond the four fields are ignored: the file is not a user's typo
            genotype = make_genotype({f: raw[f] for f in FIELDS if f in raw}, "net.genotype")
        except ArchError as e:
            raise BenchmarkError(f"{at}: {e}") from None
        err = _final_error(_get(model, curve_key, at), curve_key, at)
        params = _number(_get(model, "params", at), "params", at)
        flops = _number(_get(model, "flops", at), "flops", at)
        if not math.isfinite(err):
            skipped.append(label)
            continue
        optim = model.get("optim") or {}
        if not isinstance(optim, dict):
            raise BenchmarkError(f"{at}: optim is a {type(optim).__name__}, not a JSON object")
        setting = (
            width,
            depth,
            *(_plain(x) for x in (net.get("aux"), net.get("drop_prob"))),
            *(_plain(optim.get(key)) for key in ("base_lr", "wd", "max_ep")),
        )
        arch = format_genotype(genotype)
        g = groups.get((arch, setting))
        if g is None:
            g = groups[(arch, setting)] = _Group(index=k, genotype=genotype, setting=setting)
            settings_of.setdefault(arch, []).append(setting)
        g.acc.append(100.0 - err)
        g.params.append(params / 1e6)
        g.flops.append(flops / 1e6)
        g.labels.append(label)
        kept_macros[macro_key(width, depth)] += 1
    if not groups:
        if not matched:
            have = ", ".join(f"{m} ({n})" for m, n in all_macros.most_common(12))
            raise BenchmarkError(
                f"{where}: no models at width/depth {schedule}; macro settings in this file "
                f"(models): {have}{did_you_mean(str(schedule), all_macros)}"
            )
        raise BenchmarkError(f"{where}: no model has a finite final {curve_key} ({len(skipped)} skipped)")
    for arch, settings in settings_of.items():
        if len(settings) > 1:
            firsts = [groups[(arch, s)].labels[0] for s in settings]
            listed = "; ".join(f"{_setting_str(s)} ({lab})" for s, lab in zip(settings, firsts, strict=True))
            raise BenchmarkError(
                f"{where}: genotype {arch} was trained under {len(settings)} settings ({listed}); one "
                f"table holds one setting per genotype: pick one with schedule 'w<width>d<depth>' "
                f"(macro settings here: {', '.join(sorted(kept_macros))})"
            )
    if skipped:
        warnings.warn(
            f"{where}: {len(skipped)} of the {matched} models at {schedule} have a non-finite final "
            f"{curve_key} and are left out (first: {', '.join(skipped[:3])}); metrics are over the others",
            stacklevel=2,
        )
    rows = sorted(groups.values(), key=lambda g: g.index)
    repeats = Counter(len(g.acc) for g in rows)
    single = len(kept_macros) == 1
    meta: dict[str, Any] = {
        "space": "darts_nds",  # lets lookups re-format any genotype spelling before the import stamps it
        "reader": "nds-json",
        "file": source.name,
        "layout": layout,
        "n_models": len(models),
        "n_kept": sum(kept_macros.values()),
        "n_skipped_nonfinite": len(skipped),
        "skipped": skipped[:20],
        "macro": next(iter(kept_macros)) if single else "mixed",
        "macro_settings": dict(sorted(kept_macros.items())),
        "macro_settings_in_file": dict(sorted(all_macros.items())),
        "repeat_counts": {str(k): v for k, v in sorted(repeats.items())},
        "field": f"100 - final {curve_key}, mean over repeats (same genotype and training setting)",
        "params_unit": "millions (NDS 'params' / 1e6)",
        "flops_unit": "millions (NDS 'flops' / 1e6)",
    }
    if single:
        meta["width"], meta["depth"] = rows[0].setting[0], rows[0].setting[1]
    else:
        meta["row_width"] = [g.setting[0] for g in rows]
        meta["row_depth"] = [g.setting[1] for g in rows]
    return Benchmark(
        index=[g.index for g in rows],
        arch=[format_genotype(g.genotype) for g in rows],
        canonical=[canonical_id(g.genotype) for g in rows],
        acc=[sum(g.acc) / len(g.acc) for g in rows],
        params=[sum(g.params) / len(g.params) for g in rows],
        flops=[sum(g.flops) / len(g.flops) for g in rows],
        meta=meta,
    )


LOADER = BenchLoader(
    read=read_darts_nds,
    normalize_metric=normalize_metric,
    sources=SOURCES,
    default_metric=DEFAULT_METRIC,
    measured=cifar10_only,  # every metric of this benchmark is CIFAR-10's
    default_schedule=DEFAULT_SCHEDULE,
)
"""How wsnas reads this space's ground truth (`SearchSpace.loader`)."""
