"""`wsnas standalone train SPACE ARCH [--config F] [key=value ...] | --resume RUN_DIR`."""

from __future__ import annotations

import argparse
import json
import sys

from wsnas.core.errors import WsnasError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("standalone", help="train one architecture stand-alone (protocol P_proxy)")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    t = verbs.add_parser("train", help="train ARCH's stand-alone network and score it")
    t.add_argument("space", nargs="?", help="search space, e.g. nb201, nb201_mini")
    t.add_argument("arch", nargs="?", help="arch string in the space's notation")
    t.add_argument("overrides", nargs="*", help="key.sub=value overrides (e.g. proxy.epochs=50)")
    t.add_argument(
        "--config", help="stand-alone YAML config (data, proxy, runtime, seed, ...) or a shipped name"
    )
    t.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    t.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from wsnas.cli.commands.train import finished_summary
    from wsnas.config import StandaloneConfig, load_config
    from wsnas.engine.rundir import RunDir
    from wsnas.spaces.check import check_config
    from wsnas.trainers.standalone_trainer import train_standalone

    overrides = list(args.overrides)
    if args.resume:
        extra = [a for a in (args.space, args.arch) if a is not None]
        if args.config or any("=" not in a for a in extra):
            raise WsnasError("--resume takes the run dir's own config; give only key=value overrides")
        overrides = extra + overrides
        cfg = RunDir(args.resume).resume_config(overrides, StandaloneConfig)
        finished = finished_summary(RunDir(args.resume))
        if finished is not None:
            print(
                f"{args.resume} is finished ({finished.get('epochs')} epochs): nothing to resume; "
                "its result:",
                file=sys.stderr,
            )
        summary = finished or train_standalone(cfg, resume_dir=args.resume)
    else:
        if args.space is None or args.arch is None:
            raise WsnasError("usage: wsnas standalone train SPACE ARCH [key=value ...] [--config F]")
        overrides = [f"space.name={args.space}", *overrides]
        cfg = load_config(args.config, overrides, model=StandaloneConfig)
        cfg = check_config(cfg.model_copy(update={"arch": args.arch}), args.config or "overrides")
        summary = train_standalone(cfg)
    print(
        json.dumps(
            {
                "run_dir": summary["run_dir"],
                "status": summary["status"],
                "arch": summary["arch"],
                **summary["final"],
            }
        )
    )
    return 0
