"""`wsnas demo [--out DIR] [key=value ...]`: the study on the shipped mini benchmark, offline."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="train and score 6 super-nets (2 settings x 3 seeds) on the shipped mini benchmark (offline)",
        description="Trains 6 NB201-mini (nb201_mini) super-nets on scikit-learn's digits with the paper's "
        "defaults: 2 settings (BN batch statistics vs tracked running statistics) x 3 seeds (--seeds); "
        "prints the metrics of each setting (mean +- std over seeds), writes a report.",
    )
    p.add_argument("overrides", nargs="*", help="key.sub=value overrides of the demo config")
    p.add_argument("--out", default="runs/demo", help="where the run dirs and report go (default runs/demo)")
    p.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds per setting (default 0 1 2)"
    )
    p.add_argument("--no-report", action="store_true", help="skip the HTML report")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from wsnas.presets.demo import format_result, run_demo

    res = run_demo(
        args.out,
        args.overrides,
        tuple(args.seeds),
        report=not args.no_report,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    print(format_result(res))
    return 0
