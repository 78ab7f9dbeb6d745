"""`wsnas estimate CONFIG --estimators a,b,... [--archs pool|all|N|FILE] [key=value ...] | --resume RUN_DIR`.

Scores architectures with estimators that need no super-net (zero-cost proxies, params/FLOPs, the
benchmark's shorter schedules) against the same ground truth and pool as a super-net run of CONFIG
(`wsnas.estimators`). Progress with an ETA on stderr; the summary table on stdout; `--json` prints
one JSON line. Rerunning the same command continues an unfinished run dir.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from wsnas.cli.commands.sweep import add_gpu_args, gpu_request
from wsnas.core.errors import WsnasError
from wsnas.core.metric_definitions import RANKING_KEYS

ESTIMATOR_NAMES = "<estimators>"
"""Placeholder in a help text for the registered estimator names (filled when help is printed)."""


class _RegistryHelp(argparse.HelpFormatter):
    """Fills the registry's names into the help when it is printed, not when the parser is built, so
    `wsnas` starts without loading the registry (or its plugins); names are joined by ", " so a line
    breaks between names, never inside one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = super()._get_help_string(action)
        if text and ESTIMATOR_NAMES in text:
            from wsnas.core.errors import ConfigError
            from wsnas.estimators.registry import known_names

            try:
                names = ", ".join(known_names())
            except ConfigError as e:  # a broken plugin: say so in the help instead of a traceback
                names = f"the registered estimators (not listed: {e})"
            text = text.replace(ESTIMATOR_NAMES, names)
        return text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "estimate",
        help="score architectures with zero-cost proxies, params/FLOPs or short schedules (no super-net)",
        formatter_class=_RegistryHelp,
    )
    p.add_argument(
        "config", nargs="?", help="run config (YAML or a shipped name): space, data, bench, pool, seed"
    )
    p.add_argument("overrides", nargs="*", help="key.sub=value overrides")
    p.add_argument(
        "--estimators",
        help=f"comma-separated names of {ESTIMATOR_NAMES} (`wsnas list estimators` says what each is)",
    )
    p.add_argument(
        "--archs",
        default="pool",
        help="pool (eval.pool_size, eval.pool_seed), all, a number N, or a FILE of architectures (one per "
        "line, or a CSV with an arch column), scored in file order",
    )
    p.add_argument(
        "--drop-duplicates",
        action="store_true",
        help="with --archs FILE: leave repeated (also isomorphic) architectures out instead of refusing",
    )
    p.add_argument("--batch", type=int, default=None, help="minibatch of the zero-cost proxies (default 64)")
    p.add_argument("--channels", type=int, default=None, help="network width (default: the benchmark's)")
    p.add_argument("--cells", type=int, default=None, help="cells per stage (default: the benchmark's)")
    p.add_argument(
        "--network",
        choices=("benchmark", "zero_cost_authors"),
        default="benchmark",
        help="what the zero-cost estimators score: the benchmark's stand-alone network and normalisation "
        "(default), or the NB201 network and preprocessing of the zero-cost authors' published numbers",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes scoring shards of archs in parallel (local; default 1, or N x K with --gpus)",
    )
    p.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="where shards run: local processes (--workers) or Ray tasks (--address, or a local Ray)",
    )
    p.add_argument("--address", help="Ray cluster address (with --executor ray)")
    add_gpu_args(p)  # shards share GPUs as sweep runs do
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an estimate run dir with its own settings")
    p.add_argument(
        "--status",
        metavar="RUN_DIR",
        help="print the metrics of the archs scored so far (a run in progress; nothing is written)",
    )
    p.add_argument(
        "--predictor",
        metavar="RUN_DIR",
        help="train a gradient-boosting predictor on the estimators of a finished estimate run dir, on N "
        "GT-labelled archs, and score it on the rest (predictor.json there)",
    )
    p.add_argument(
        "--supernet",
        metavar="RUN_DIR",
        help="with --predictor: a super-net run on the same pool and GT; its one-shot accuracy is a feature",
    )
    p.add_argument(
        "--features-from",
        metavar="RUN_DIR",
        action="append",
        default=[],
        help="with --predictor: another finished estimate run of the same pool and GT whose estimators "
        "are features too (repeatable)",
    )
    p.add_argument(
        "--predictor-n",
        default="10,20,50,100,200",
        help="with --predictor: training sizes N (comma-separated)",
    )
    p.add_argument("--predictor-repeats", type=int, default=5, help="with --predictor: splits per N")
    p.add_argument("--predictor-seed", type=int, default=0, help="with --predictor: the splits' seed")
    p.add_argument("--json", action="store_true", help="print the result as one JSON line")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=_estimate)


def _estimate(args: argparse.Namespace) -> int:
    from wsnas.config import load_config
    from wsnas.core.interrupt import Interrupted
    from wsnas.estimators.plan import DEFAULT_BATCH, EstimateOptions, archs_option, load_plan, plan_estimate
    from wsnas.estimators.run import run_estimate
    from wsnas.estimators.shards import estimate_executor

    config, overrides = args.config, list(args.overrides)
    if config is not None and "=" in config:
        config, overrides = None, [config, *overrides]
    if args.predictor:
        return _predictor(args, config, overrides)
    if args.supernet or args.features_from:
        raise WsnasError("--supernet and --features-from go with --predictor RUN_DIR")
    if args.status:
        from wsnas.estimators.summary import current_summary

        print_summary(current_summary(args.status), args.json)
        return 0
    if args.resume:
        if config is not None or args.estimators:
            raise WsnasError(
                "--resume takes the run dir's own config and estimators; give only key=value overrides"
            )
        plan, run_dir = load_plan(args.resume, overrides), args.resume
    else:
        if not args.estimators:
            raise WsnasError("--estimators: name at least one (e.g. --estimators synflow,jacob_cov,params)")
        opts = EstimateOptions(
            estimators=[e.strip() for e in args.estimators.split(",") if e.strip()],
            **archs_option(args.archs),
            drop_duplicates=args.drop_duplicates,
            batch=DEFAULT_BATCH if args.batch is None else args.batch,
            channels=args.channels,
            cells=args.cells,
            network=args.network,
        )
        plan, run_dir = plan_estimate(load_config(config, overrides), opts, config or "overrides"), None
    show = not args.quiet and plan.cfg.runtime.progress
    executor = estimate_executor(plan, args.executor, args.workers, args.address, gpu_request(args))
    try:
        summary = run_estimate(plan, run_dir, progress=_Progress() if show else None, executor=executor)
    except Interrupted as e:
        if e.resume is None and plan.run is not None:
            e.resume = f"wsnas estimate --resume {plan.run.path}"
        raise
    print_summary(summary, args.json)
    return 0


def _predictor(args: argparse.Namespace, config: str | None, overrides: list[str]) -> int:
    from wsnas.estimators.predictor import PredictorOptions, run_predictor

    if config is not None or overrides or args.estimators or args.resume or args.status:
        raise WsnasError(
            "--predictor RUN_DIR reads that run's estimators and GT; give no config or estimators"
        )
    try:
        ns = tuple(int(v) for v in args.predictor_n.split(",") if v.strip())
    except ValueError:
        raise WsnasError(f"--predictor-n: got {args.predictor_n!r}; give sizes like 10,20,50") from None
    opts = PredictorOptions(
        ns, args.predictor_repeats, args.predictor_seed, args.supernet, tuple(args.features_from)
    )
    out = run_predictor(args.predictor, opts)
    if args.json:
        rows = {r["n_train"]: {k: v["mean"] for k, v in r["predictor"].items()} for r in out["results"]}
        print(json.dumps({"run_dir": out["run_dir"], "identity": out["identity"]["hash"], "results": rows}))
        return 0
    n_feat = len(out["identity"]["features"])
    print(f"{out['run_dir']}/predictor.json: {n_feat} features, {out['n_pool']} archs, {opts.repeats} "
          f"splits per N (seed {opts.seed}); mean ± std over splits, held-out archs only")  # fmt: skip
    keys = (("kdt", "KdT"), ("spearman", "Spearman"), ("ptop_5pct", "P@top5%"), ("br_5pct", "BR@5%"),
            ("ndcg", "NDCG"), ("pairwise_acc", "pair"))  # fmt: skip
    print(f"{'N':>5} {'test':>6} " + " ".join(f"{t:>13}" for _, t in keys) + "  best feature alone (KdT)")
    for r in out["results"]:
        cells = " ".join(f"{_pm(r['predictor'][k]):>13}" for k, _ in keys)
        alone = {
            n: v["kdt"]["mean"]
            for n, v in r["features_alone"].items()
            if v["kdt"]["mean"] == v["kdt"]["mean"]
        }
        best = max(alone, key=lambda n: alone[n]) if alone else None
        tail = f"  {best} {alone[best]:.3f}" if best else ""
        print(f"{r['n_train']:>5} {r['n_test']:>6} {cells}{tail}")
    for n, why in out["skipped"].items():
        print(f"N={n}: skipped ({why})")
    return 0


def _pm(s: dict[str, float]) -> str:
    m, sd = s["mean"], s["std"]
    if m != m:
        return "nan"
    return f"{m:.3f}±{sd:.3f}" if sd == sd else f"{m:.3f}"


class _Progress:
    """`estimate: 120/1000 archs, 2.10 s/arch, ETA 30m50s` on stderr, at most every 2 s (and the last)."""

    def __init__(self) -> None:
        self.last = 0.0
        self.start_done: int | None = None

    def __call__(self, done: int, total: int, seconds: float) -> None:
        if self.start_done is None:
            self.start_done = done - 1
        now = time.perf_counter()
        if now - self.last < 2.0 and done < total:
            return
        self.last = now
        rate = seconds / max(done - self.start_done, 1)
        eta = rate * (total - done)
        end = "\n" if done == total or not sys.stderr.isatty() else ""
        print(
            f"\restimate: {done}/{total} archs, {rate:.2f} s/arch, ETA {_hms(eta)}",
            end=end,
            file=sys.stderr,
            flush=True,
        )


def _hms(s: float) -> str:
    s = int(round(s))
    h, m = divmod(s, 3600)
    m, sec = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{sec:02d}s"


def print_summary(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        keys = ("kdt", "skdt", "spearman", "final_acc", "pbr", *RANKING_KEYS, "pairwise_acc", "n_nan")
        keys += ("by_gt",)
        ests = {n: {k: r.get(k) for k in keys} for n, r in summary["estimators"].items()}
        print(json.dumps({"run_dir": summary["run_dir"], "status": summary["status"], "estimators": ests}))
        return
    print(f"{summary['run_dir']}: {summary['status']} ({summary['archs']['n']} archs, {summary['device']})")
    cols = (("KdT", 7), ("s-KdT", 7), ("Spearman", 8), ("final", 7), ("P>R", 6), ("P@top5%", 7),
            ("BR@5%", 6), ("WR@5%", 6), ("NDCG", 6), ("pair", 6), ("NaN", 5), ("s/arch", 8))  # fmt: skip
    nw = max([12, *(len(n) for n in summary["estimators"])])  # the longest name sets the column
    print(f"{'estimator':<{nw}} " + " ".join(f"{c:>{w}}" for c, w in cols))
    for name, r in summary["estimators"].items():
        print(
            f"{name:<{nw}} {_f(r['kdt'])} {_f(r['skdt'])} {_f(r['spearman'], 8)} {_f(r['final_acc'], 7, 2)} "
            f"{_f(r['pbr'], 6)} {_f(r.get('ptop_5pct'))} {_f(r.get('br_5pct'), 6)} "
            f"{_f(r.get('wr_5pct'), 6)} {_f(r.get('ndcg'), 6)} {_f(r.get('pairwise_acc'), 6)} "
            f"{r['n_nan']:>5} {r['seconds_per_arch']:>8.3f}"
        )
    labels = [c["label"] for c in summary.get("gt_columns", [])]
    if len(labels) > 1:  # KdT and Spearman against each ground truth of the data set
        print("against each ground truth: " + ", ".join(f"{x} ({c['metric']})" for x, c in
              zip(labels, summary["gt_columns"], strict=True)))  # fmt: skip
        print(f"{'estimator':<{nw}} " + " ".join(f"{'KdT ' + x:>14} {'Sp ' + x:>13}" for x in labels))
        for name, r in summary["estimators"].items():
            by = r.get("by_gt", {})
            cells = (
                f"{_f(by.get(x, {}).get('kdt'), 14)} {_f(by.get(x, {}).get('spearman'), 13)}" for x in labels
            )
            print(f"{name:<{nw}} " + " ".join(cells))
    missing = summary.get("gt_columns_missing") or {}
    for label, why in missing.items():
        print(f"ground truth {label}: not scored ({why})")
    if "vote" in summary["estimators"]:
        print("vote: its KdT ... rank the Copeland score (wins by 2-of-3 majority); 'pair' is the zero-cost "
              "authors' vote, the pairwise accuracy of that majority")  # fmt: skip


def _f(v: Any, width: int = 7, digits: int = 3) -> str:
    return f"{v:>{width}.{digits}f}" if isinstance(v, float) and v == v else f"{'nan':>{width}}"
