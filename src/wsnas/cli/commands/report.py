"""`wsnas report DIR... --out REPORT_DIR`: tables and figures of the paper's form from run dirs."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="aggregate run dirs over seeds into tables, figures and an index.html",
        description="Find every run dir (config.yaml + summary.json) under DIR..., group runs by "
        "setting (config without the seed, plus the run's identity; each seed once), aggregate over "
        "seeds and write tables (CSV, Markdown), figures (PNG) and index.html to REPORT_DIR.",
    )
    p.add_argument("dirs", nargs="+", metavar="DIR", help="run dirs, sweep dirs or any folder holding them")
    p.add_argument("--out", required=True, metavar="REPORT_DIR", help="where the report goes")
    p.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from wsnas.report import write_report

    rep = write_report(args.dirs, args.out)
    print(
        json.dumps(
            {
                "report": str(rep.index),
                "runs": rep.num_runs,
                "settings": rep.num_settings,
                "tables": len(rep.tables),
                "figures": len(rep.figures),
                "warnings": len(rep.warnings),
            }
        )
    )
    return 0
