"""A run dir as a person reads it: the end table of `wsnas train` and `wsnas show RUN_DIR`.

Everything is read from the files a run writes (config.yaml, log.jsonl, summary.json,
the lock), never from a live trainer, so a finished, cut, failed or running run reads
the same way, and `show` agrees with what `train` printed at its end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from wsnas.core.dirlock import holder
from wsnas.core.errors import WsnasError
from wsnas.engine.rundir import RunDir
from wsnas.spaces import SPACES

EVAL_COLUMNS = (
    ("supernet_acc_mean", "super-net acc", "{:.2f}"),
    ("kdt", "KdT", "{:+.3f}"),
    ("skdt", "s-KdT", "{:+.3f}"),
    ("pbr", "P>R", "{:.3f}"),
    ("final_acc", "final acc", "{:.2f}"),
)
"""The super-net metrics of the end table and of `show`, in the paper's order."""
STANDALONE_COLUMNS = (("eval_acc", "eval acc", "{:.2f}"), ("eval_loss", "eval loss", "{:.3f}"))
EPOCH_COLUMNS = (
    ("lr", "lr", "{:.4f}"),
    ("train_loss", "train loss", "{:.3f}"),
    ("train_acc", "train acc", "{:.1f}"),
)


@dataclass
class RunView:
    path: Path
    config: dict[str, Any]
    log: list[dict[str, Any]]
    summary: dict[str, Any] | None

    @property
    def standalone(self) -> bool:
        return "proxy" in self.config

    @property
    def epochs(self) -> int | None:
        """Epochs the run is set to train (stand-alone: None where the space's default applies)."""
        section = self.config.get("proxy" if self.standalone else "protocol") or {}
        value = section.get("epochs")
        return int(value) if isinstance(value, int) else None

    def status(self) -> str:
        """finished / diverged (with its message) / running / cut at epoch k / started."""
        done = [r["epoch"] for r in self.log if r.get("type") == "epoch"]
        of = f"/{self.epochs}" if self.epochs else ""
        if self.summary is not None and self.summary.get("status") == "finished":
            return f"finished ({self.summary.get('epochs', done[-1] if done else '?')}{of} epochs)"
        if self.summary is not None and self.summary.get("status") == "diverged":
            return f"diverged: {self.summary.get('message', '')}"
        pid = holder(self.path)
        if pid is not None:
            return f"running (pid {pid}), {len(done)}{of} epochs done"
        resume = "wsnas standalone train --resume" if self.standalone else "wsnas train --resume"
        if done:
            return f"cut at epoch {done[-1]}{of}; resume with: {resume} {self.path}"
        return f"started, no epoch finished; resume (or start again) with: {resume} {self.path}"


def load_run(path: str | Path) -> RunView:
    """RUN_DIR's files; a clear error for a folder that is not a run dir."""
    run = RunDir(path)
    if not run.path.is_dir():
        raise WsnasError(f"{run.path} is not a run dir: no such folder")
    if not run.is_run_dir() or not run.config.is_file():
        raise WsnasError(
            f"{run.path} is not a run dir: no config.yaml written by wsnas "
            "(give the folder of one run, e.g. runs/NAME, or a sweep's runs/NAME)"
        )
    try:
        config = yaml.safe_load(run.config.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise WsnasError(f"{run.config} is unreadable: {e}") from None
    return RunView(
        run.path, config if isinstance(config, dict) else {}, _read_log(run.log), _read_summary(run.summary)
    )


def _read_log(path: Path) -> list[dict[str, Any]]:
    """log.jsonl's records; a torn last line (a killed writer) is left out."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            records.append(rec)
    return records


def _read_summary(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _cell(value: Any, fmt: str) -> str:
    return fmt.format(value) if isinstance(value, int | float) and not isinstance(value, bool) else ""


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    return [line(header), *(line(r) for r in rows)]


def space_title(name: str) -> str:
    """The benchmark's own name with the registry name: 'NASBench-201 (nb201)'."""
    try:
        title = SPACES.get(name).title
    except WsnasError:  # a space not installed here still shows its name
        title = ""
    return f"{title} ({name})" if title else name


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The end table: what was scored, the final metrics, and the top-k archs with their GT."""
    final = summary.get("final") or {}
    if summary.get("kind") == "standalone":
        head = f"{summary.get('space')} stand-alone: {summary.get('arch')}"
        cols = [(k, label, fmt) for k, label, fmt in (*STANDALONE_COLUMNS, *EPOCH_COLUMNS[1:]) if k in final]
        return [head, *_table([c[1] for c in cols], [[_cell(final.get(k), f) for k, _, f in cols]])]
    bench = summary.get("benchmark") or {}
    k = summary.get("top_k", 3)
    pool = final.get("pool_size")
    facts = [
        space_title(str(bench.get("space", "?"))),
        f"GT {bench.get('metric', '?')}",
        f"pool {pool} archs" if pool is not None else None,
        f"{final.get('eval_images')} eval images" if final.get("eval_images") else None,
        f"s-KdT bins {summary.get('sparse_threshold')} pts",
        f"final acc = mean GT of the top-{k}",
    ]
    lines = [" | ".join(f for f in facts if f)]
    row = [str(final.get("epoch", "")), *(_cell(final.get(key), f) for key, _, f in EVAL_COLUMNS)]
    lines += _table(["epoch", *(c[1] for c in EVAL_COLUMNS)], [row])
    top = summary.get("top_archs") or {}
    if top.get("archs"):
        total = bench.get("size")
        lines.append(f"top-{k} by super-net accuracy (searched architectures):")
        for i, a in enumerate(top["archs"], start=1):
            rank = rank_text(a["gt_rank"], total)
            sn, gt = a["supernet_acc"], a["gt_acc"]
            lines.append(f"  {i}. super-net {sn:.2f}  GT {gt:.2f} ({rank})  {a['arch']}")
        if top.get("tied_beyond"):
            n = top["tied_beyond"]
            more = "1 more arch shares" if n == 1 else f"{n} more archs share"
            lines.append(
                f"  ({more} the top-{k}'s last score; final acc and P>R count the expectation over them)"
            )
    return lines


def rank_text(rank: Any, total: Any = None) -> str:
    """A GT rank as people read it: counted from 1 = best ('GT rank 1 of 15,625'); files keep the
    0-based rank their definitions state (the P>R formula's r). A mean over tied archs keeps one decimal."""
    if rank is None:
        return "GT rank unknown"
    shown = f"{int(rank) + 1:,}" if float(rank).is_integer() else f"{float(rank) + 1:,.1f}"
    return f"GT rank {shown}" + (f" of {total:,}" if isinstance(total, int) else "") + " (1 = best)"


def search_lines(summary: dict[str, Any], path: str | Path) -> list[str]:
    """The end table of `wsnas search`: found arch, its GT and rank, regret and P>R at each checkpoint
    of the budget, the fitness split, and where the files are."""
    found = summary.get("found") or {}
    best = summary.get("benchmark_best") or {}
    fit = summary.get("fitness") or {}
    total = best.get("size")
    held = "held out of super-net training" if fit.get("valid_held_out_from_training") else "seen in training"
    lines = [
        f"{space_title(str(summary.get('space', '?')))} | {summary.get('algo')} search, seed "
        f"{summary.get('seed')}, {summary.get('evals')}/{summary.get('budget')} evaluations "
        f"({summary.get('stopped')}) | {_cell(summary.get('wall_time_s'), '{:.1f}')} s",
        f"fitness: super-net accuracy on {fit.get('valid_images')} validation images ({held}; seed "
        f"{fit.get('valid_seed')}); the GT is measured on other images",
    ]
    if found.get("arch") is not None:
        gt = found.get("gt_acc")
        tied = len(found.get("tied_archs") or [])
        lines.append(
            f"found: {found['arch']}  super-net {_cell(found.get('fitness'), '{:.2f}')}  GT "
            f"{_cell(gt, '{:.2f}')} ({rank_text(found.get('gt_rank'), total)})"
            + (f"  [{tied} archs tied at this fitness: GT and rank are their means]" if tied > 1 else "")
        )
    lines.append(f"benchmark best: GT {_cell(best.get('gt_acc'), '{:.2f}')}  {best.get('arch')}")
    curve = summary.get("regret_after") or []
    if curve:
        lines.append(
            "after N evaluations (regret = best GT - found GT, points; P>R: 1 = better than random):"
        )
        rows = [
            [
                str(c["evals"]),
                _cell(c.get("gt_acc"), "{:.2f}"),
                rank_text(c.get("gt_rank")).removeprefix("GT rank ").removesuffix(" (1 = best)"),
                _cell(c.get("regret"), "{:.2f}"),
                _cell(c.get("pbr"), "{:.3f}"),
                _cell(c.get("pbr_top_k"), "{:.3f}"),
            ]
            for c in curve
        ]
        n = (summary.get("definitions") or {}).get("pbr_top_k", "").split("^")[-1].split(":")[0] or "k"
        lines += _table(["evals", "GT", "rank (1=best)", "regret", "P>R n=evals", f"P>R n={n}"], rows)
    out = Path(path)
    lines.append(f"files: {out / 'summary.json'}, {out / 'trajectory.csv'}")
    return lines


def epoch_lines(view: RunView) -> list[str]:
    """Metrics over epochs: one row per epoch, the evaluation's columns where it was evaluated."""
    evals = {r["epoch"]: r for r in view.log if r.get("type") == "eval"}
    cols = STANDALONE_COLUMNS[:1] if view.standalone else EVAL_COLUMNS
    rows = []
    for r in view.log:
        if r.get("type") != "epoch":
            continue
        ev = evals.get(r["epoch"], {})
        rows.append(
            [
                str(r["epoch"]),
                *(_cell(r.get(k), f) for k, _, f in EPOCH_COLUMNS),
                *(_cell(ev.get(k), f) for k, _, f in cols),
            ]
        )
    if not rows:
        return ["no epoch finished yet"]
    return _table(["epoch", *(c[1] for c in EPOCH_COLUMNS), *(c[1] for c in cols)], rows)


def show(path: str | Path) -> str:
    """`wsnas show RUN_DIR`: status, metrics over epochs and (when finished) the end table."""
    view = load_run(path)
    lines = [f"{view.path}: {view.status()}", "", *epoch_lines(view)]
    if view.summary is not None and view.summary.get("status") == "finished":
        lines += ["", *summary_lines(view.summary)]
    return "\n".join(lines)
