"""A run dir as a person reads it: the end table of `wsnas train` and `wsnas show RUN_DIR`.

Everything is read by the one reader of a run dir (`wsnas.engine.runs`: config.yaml,
log.jsonl, summary.json, the lock), never from a live trainer, so a finished, cut, failed or
running run reads the same way, and `show` agrees with what `train` printed at its end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wsnas.core.errors import WsnasError
from wsnas.engine.runs import RunResult, open_run
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


def status_text(run: RunResult) -> str:
    """finished / diverged (with its message) / running / cut at epoch k / started, in words."""
    done = [r["epoch"] for r in run.epochs]
    of = f"/{run.planned_epochs}" if run.planned_epochs else ""
    summary = run.summary or {}
    status = run.status
    if status == "finished":
        return f"finished ({summary.get('epochs', done[-1] if done else '?')}{of} epochs)"
    if status == "diverged":
        return f"diverged: {summary.get('message', '')}"
    if status == "running":
        return f"running (pid {run.writer_pid}), {len(done)}{of} epochs done"
    resume = "wsnas standalone train --resume" if run.standalone else "wsnas train --resume"
    if done:
        return f"cut at epoch {done[-1]}{of}; resume with: {resume} {run.path}"
    return f"started, no epoch finished; resume (or start again) with: {resume} {run.path}"


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
        f"metrics: {summary.get('metric_definition', 'paper')} definition",
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


def epoch_lines(run: RunResult) -> list[str]:
    """Metrics over epochs: one row per epoch, the evaluation's columns where it was evaluated."""
    evals = {e.epoch: e.metrics for e in run.evaluations}
    cols = STANDALONE_COLUMNS[:1] if run.standalone else EVAL_COLUMNS
    rows = []
    for r in run.epochs:
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
    run = open_run(path)
    lines = [f"{run.path}: {status_text(run)}", "", *epoch_lines(run)]
    if run.finished and run.summary is not None:
        lines += ["", *summary_lines(run.summary)]
    return "\n".join(lines)
