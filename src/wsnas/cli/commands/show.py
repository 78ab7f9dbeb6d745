"""`wsnas show RUN_DIR`: a run's status, metrics over epochs and end table (finished, cut or failed)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="print a run dir's status, metrics over epochs and end table")
    p.add_argument("run_dir", metavar="RUN_DIR", help="the folder of one run (super-net or stand-alone)")
    p.set_defaults(func=_show)


def _show(args: argparse.Namespace) -> int:
    from wsnas.cli.views import show

    print(show(args.run_dir))
    return 0
