"""`wsnas train CONFIG [key=value ...] | --resume RUN_DIR`: the main job.

Prints a start line and progress on stderr (`wsnas.engine.progress`) and, at the end, the
human table on stdout (`wsnas.cli.views`); `--json` prints the one JSON line scripts read.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from wsnas.core.errors import WsnasError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a super-net and score it against the ground truth")
    p.add_argument("config", nargs="?", help="YAML config, or a shipped config's name (e.g. nb201-quick)")
    p.add_argument("overrides", nargs="*", help="key.sub=value overrides")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    p.add_argument("--json", action="store_true", help="print the result as one JSON line (for scripts)")
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no start line or progress on stderr (same as runtime.progress=false)",
    )
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from wsnas.config import load_config
    from wsnas.engine.rundir import RunDir
    from wsnas.spaces.check import check_config
    from wsnas.trainers.supernet_trainer import train

    config, overrides = args.config, list(args.overrides)
    if config is not None and "=" in config:
        config, overrides = None, [config, *overrides]
    if args.quiet:
        overrides.append("runtime.progress=false")
    if args.resume:
        if config is not None:
            raise WsnasError("--resume takes the run dir's own config; give only key=value overrides")
        cfg = RunDir(args.resume).resume_config(overrides)
        finished = finished_summary(RunDir(args.resume))
        if finished is not None:
            print(
                f"{args.resume} is finished ({finished.get('epochs')} epochs): nothing to resume; "
                "its summary:",
                file=sys.stderr,
            )
            print_result(finished, args.json)
            return 0
        summary = train(cfg, resume_dir=args.resume)
    else:
        summary = train(check_config(load_config(config, overrides), config or "overrides"))
    from wsnas.engine.distributed import env_from_environ

    if env_from_environ().is_main:  # one result per job under torchrun, not one per rank
        print_result(summary, args.json)
    return 0


def finished_summary(run: Any) -> dict[str, Any] | None:
    """RUN's summary if it is a finished run dir, else None (a resume then does the checks)."""
    from wsnas.engine.runs import read_summary

    if not (run.path.is_dir() and run.is_run_dir()):
        return None
    summary = read_summary(run.summary)
    return summary if summary is not None and summary.get("status") == "finished" else None


def print_result(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"run_dir": summary["run_dir"], "status": summary["status"], **summary["final"]}))
        return
    from wsnas.cli.views import summary_lines
    from wsnas.engine.runs import read_run

    run = read_run(summary["run_dir"])  # the end table as `wsnas show` reads it: from the run dir
    print(f"{summary['run_dir']}: {run.status}")
    print("\n".join(summary_lines(run.summary or summary)))
