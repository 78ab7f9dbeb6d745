"""`wsnas demo`: the whole study on the shipped mini benchmark, offline, in about a minute.

Trains super-nets on nb201_mini / digits with the paper's defaults over seeds:
as the paper recommends (BN with batch statistics) and with tracked running
statistics (the paper's Figure 4 finding: statistics tracked over many paths fit
none of them, so super-net accuracy and ranking suffer). Prints the four metrics
of each setting (mean +- std over seeds), writes a report and says where
everything is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wsnas.config import RunConfig, load_config
from wsnas.core.runname import run_name
from wsnas.engine.rundir import RunDir, run_state
from wsnas.presets import shipped_path
from wsnas.report import write_report
from wsnas.spaces.check import check_config
from wsnas.trainers.supernet_trainer import train

PRESET = "demo.yaml"
METRICS: tuple[tuple[str, str, str], ...] = (
    ("supernet_acc_mean", "super-net accuracy (%)", "{:.2f}"),
    ("kdt", "Kendall-Tau", "{:+.3f}"),
    ("skdt", "sparse Kendall-Tau", "{:+.3f}"),
    ("pbr", "P>R", "{:.3f}"),
    ("final_acc", "final searched model (%)", "{:.2f}"),
)
VARIANTS: tuple[tuple[str, list[str]], ...] = (
    ("bn-batch-stats", ["mapping.bn_track_running_stats=false"]),
    ("bn-tracked-stats", ["mapping.bn_track_running_stats=true"]),
)
"""(run name, overrides): the paper's default, then the Figure 4 comparison."""


def preset_path(name: str = PRESET) -> Path:
    return shipped_path(name)


SEEDS = (0, 1, 2)


def demo_configs(
    out: str | Path, overrides: list[str] | None = None, seeds: tuple[int, ...] = SEEDS
) -> dict[str, list[RunConfig]]:
    """Per setting, one config per seed: the preset + OVERRIDES + the setting's BN flag."""
    return {
        name: [
            check_config(
                load_config(
                    preset_path(),
                    [
                        *(overrides or []),
                        *extra,
                        f"seed={seed}",
                        f"out_dir={out}",
                        f"name={run_name(name, seed)}",
                    ],
                ),
                "demo preset",
            )
            for seed in seeds
        ]
        for name, extra in VARIANTS
    }


@dataclass
class DemoResult:
    summaries: dict[str, list[dict[str, Any]]]
    """setting -> the summaries of its runs, one per seed."""
    report: Path | None
    out: Path


def run_demo(
    out: str | Path,
    overrides: list[str] | None = None,
    seeds: tuple[int, ...] = SEEDS,
    report: bool = True,
    log: Any = print,
) -> DemoResult:
    """Train (or resume, or reuse) every run in OUT, then write OUT/report."""
    out = Path(out)
    summaries: dict[str, list[dict[str, Any]]] = {}
    for name, cfgs in demo_configs(out, overrides, seeds).items():
        for cfg in cfgs:
            run = RunDir.for_config(cfg)
            state = run_state(run.path)
            if state == "finished":
                log(f"{cfg.name}: finished earlier in {run.path}, reused")
                summary = _read_summary(run)
            else:
                how = "resuming" if state == "resume" else "new"
                log(f"{cfg.name}: training {cfg.protocol.epochs} epochs ({how})")
                summary = train(cfg, resume_dir=str(run.path) if state == "resume" else None)
            summaries.setdefault(name, []).append(summary)
    rep = None
    if report:
        runs = [s["run_dir"] for group in summaries.values() for s in group]
        rep = write_report(runs, out / "report").index
    return DemoResult(summaries, rep, out)


def _read_summary(run: Any) -> dict[str, Any]:
    return json.loads(run.summary.read_text())


def _stats(summaries: list[dict[str, Any]], key: str) -> tuple[float, float]:
    vals = np.array([float(s["final"][key]) for s in summaries])
    return float(vals.mean()), float(vals.std(ddof=1)) if len(vals) > 1 else 0.0


def format_result(res: DemoResult) -> str:
    """The metrics side by side (mean +- std over seeds), what they show, where the files are."""
    names = list(res.summaries)
    first = res.summaries[names[0]]
    width = max(len(label) for _, label, _ in METRICS)
    col = 18
    runs = sum(len(v) for v in res.summaries.values())
    lines = [
        f"wsnas demo: {runs} NB201-mini (nb201_mini) super-nets on digits ({len(names)} settings x "
        f"{len(first)} seed{'s' if len(first) > 1 else ''}), scored against the shipped ground truth",
        f"({_pool_text(first[0])}; final searched model = mean GT of the top-{first[0].get('top_k', 3)} "
        f"by super-net accuracy; mean +- std over {len(first)} seed{'s' if len(first) > 1 else ''})",
        "",
        f"{'':{width}}" + "".join(f"  {n:>{col}}" for n in names),
    ]
    for key, label, fmt in METRICS:
        cells = []
        for n in names:
            mean, std = _stats(res.summaries[n], key)
            cells.append(f"{fmt.format(mean)} +- {fmt.format(std).lstrip('+')}")
        lines.append(f"{label:{width}}" + "".join(f"  {c:>{col}}" for c in cells))
    lines += ["", _finding(res.summaries[names[0]], res.summaries[names[1]]), ""]
    seeds = ",".join(str(s["run_dir"]).rsplit("-s", 1)[1] for s in first)
    lines.append(f"run dirs: {res.out}/{{{','.join(names)}}}-s{{{seeds}}}")
    if res.report is not None:
        lines.append(f"report: {res.report}")
    lines += ["", *next_steps()]
    return "\n".join(lines)


def _pool_text(summary: dict[str, Any]) -> str:
    size, pool = summary["benchmark"]["size"], summary["final"].get("pool_size")
    if pool is None or pool == size:
        return f"{size} architectures, all in the evaluation pool"
    return f"{size} architectures, {pool} of them in the evaluation pool"


def next_steps() -> list[str]:
    """What to run next, by shipped config name (works from any folder, installed or cloned): the
    CPU-sized NB201 config first, then the paper's protocol."""
    return [
        "Next: a real benchmark (DATA holds CIFAR-10's cifar-10-batches-py/; ground-truth files:",
        "docs/ground-truth.md). First the CPU-sized NB201 config (minutes on 2 cores):",
        "  wsnas train nb201-quick data.root=DATA bench.source=nb201_accuracy_200ep.csv",
        "then the paper's NB201 protocol (400 epochs: a GPU job):",
        "  wsnas bench import nb201 NAS-Bench-201-v1_1-096897.pth",
        "  wsnas train nb201 data.root=DATA",
        "(`wsnas list configs` lists the shipped configs; `wsnas config path NAME` prints one's file.)",
    ]


def _finding(batch: list[dict[str, Any]], tracked: list[dict[str, Any]]) -> str:
    acc = _stats(batch, "supernet_acc_mean")[0] - _stats(tracked, "supernet_acc_mean")[0]
    kdt = _stats(batch, "kdt")[0] - _stats(tracked, "kdt")[0]
    verdict = "as the paper's Figure 4 finds" if acc > 0 and kdt > 0 else "unlike the paper's Figure 4"
    return (
        f"BN with batch statistics vs tracked running statistics: super-net accuracy {acc:+.2f} points,\n"
        f"Kendall-Tau {kdt:+.3f} ({verdict})."
    )
