"""`wsnas sweep SPEC --out DIR [key=value ...]`: run a study (factors x values x seeds), resumably."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from wsnas.cli.choices import HintingParser


class _OverridesAnywhere(HintingParser):
    """Takes key=value overrides after options too (`SPEC --out DIR data.root=...`).

    argparse fills the positional list before it sees `--out`; whatever key=value
    strings it could not place come back as extras and join the overrides here.
    """

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        ns, extra = super().parse_known_args(args, namespace)
        kv = [a for a in extra if "=" in a and not a.startswith("-")]
        ns.overrides = [*getattr(ns, "overrides", []), *kv]
        return ns, [a for a in extra if a not in kv]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a sweep spec (grid, one-at-a-time, sequential or the paper's protocol)",
        description="Expand SPEC into runs under DIR/runs and train those not finished yet; "
        "a rerun skips finished runs, resumes cut ones and retries failed ones.",
    )
    p.add_argument("spec", help="sweep spec YAML, or a shipped spec's name (e.g. mini-paper, nb201)")
    p.add_argument("overrides", nargs="*", help="key.sub=value overrides for every run (e.g. data.root=DATA)")
    p.add_argument("--out", required=True, metavar="DIR", help="sweep dir (created; reused on a rerun)")
    p.add_argument("--executor", choices=("local", "ray", "slurm"), help="default: the spec's, else local")
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="local: concurrent runs (default 1); ray: most runs in flight",
    )
    p.add_argument("--threads", type=int, metavar="T", help="torch threads per run (default: cores / N)")
    p.add_argument("--address", metavar="ADDR", help="Ray cluster address (default: start a local Ray)")
    add_gpu_args(p)
    add_slurm_args(p)
    p.add_argument(
        "--dry-run", action="store_true", help="list the runs known now and their state; train nothing"
    )
    p.add_argument(
        "--status",
        action="store_true",
        help="print runs done/running/failed/total, the current stage and an ETA; train nothing",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="delete and retrain runs made with another identity (ground truth, numerics, "
        "world size) instead of stopping",
    )
    p.add_argument(
        "--join",
        action="store_true",
        help="join the sweep another `wsnas sweep` runs in --out as one more worker pool: run what "
        "nobody runs, write none of the sweep's files (without it a second driver is refused)",
    )
    p.set_defaults(func=_sweep)
    p.__class__ = _OverridesAnywhere


def add_gpu_args(p: argparse.ArgumentParser) -> None:
    """GPU placement options (`wsnas.execution.placement`); shared with `wsnas bench build`."""
    p.add_argument(
        "--gpus",
        type=int,
        metavar="N",
        help="local: fill the first N GPUs; each worker process sees one (CUDA_VISIBLE_DEVICES)",
    )
    p.add_argument(
        "--runs-per-gpu",
        type=int,
        metavar="K",
        help="local, with --gpus: concurrent runs per GPU (default 1); workers = N x K",
    )
    p.add_argument(
        "--gpus-per-run",
        type=float,
        metavar="F",
        help="ray: GPUs each run asks Ray for (0.25: four runs share a GPU)",
    )


def add_slurm_args(p: argparse.ArgumentParser) -> None:
    """`--executor slurm` options (`wsnas.execution.slurm.SlurmOptions`), each over the spec's; shared with
    `wsnas bench build`. --gpus is then the GPUs per job, --runs-per-gpu the runs each GPU trains."""
    g = p.add_argument_group("slurm (--executor slurm)")
    g.add_argument("--partition", help="partition the jobs go to (default: the spec's, else the cluster's)")
    g.add_argument("--time-min", type=int, metavar="M", help="time limit per job in minutes (default 60)")
    g.add_argument("--cpus-per-job", type=int, metavar="C", help="CPUs per job (default: threads x runs)")
    g.add_argument("--mem-gb", type=float, metavar="G", help="memory per job in GB (default: the cluster's)")
    g.add_argument(
        "--sbatch",
        action="append",
        metavar="KEY=VALUE",
        help="an extra sbatch option without its -- (repeatable: --sbatch account=lab --sbatch qos=high)",
    )
    g.add_argument(
        "--leave-running",
        action="store_true",
        default=None,
        help="on Ctrl-C leave the jobs running (default: cancel them)",
    )


def slurm_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The Slurm options given on the command line (None: not given)."""
    from wsnas.execution.slurm import parse_sbatch

    return {
        "partition": args.partition,
        "time_min": args.time_min,
        "cpus_per_job": args.cpus_per_job,
        "mem_gb": args.mem_gb,
        "sbatch": parse_sbatch(args.sbatch) if args.sbatch else None,
        "leave_running": args.leave_running,
    }


def gpu_request(args: argparse.Namespace) -> Any:
    """The placement options as a `GpuRequest`, range-checked (a machine without GPUs refuses later)."""
    from wsnas.core.errors import WsnasError
    from wsnas.execution.placement import GpuRequest

    for name in ("gpus", "runs_per_gpu"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise WsnasError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.gpus_per_run is not None and not args.gpus_per_run > 0:
        raise WsnasError(f"--gpus-per-run must be > 0, got {args.gpus_per_run}")
    return GpuRequest(args.gpus, args.runs_per_gpu, args.gpus_per_run)


def _sweep(args: argparse.Namespace) -> int:
    from wsnas.core.errors import WsnasError
    from wsnas.engine.rundir import run_state
    from wsnas.sweep import Sweep, load_spec

    for name in ("workers", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise WsnasError(f"--{name} must be >= 1, got {getattr(args, name)}")
    spec, spec_dir = load_spec(args.spec)
    sweep = Sweep(
        spec,
        spec_dir,
        args.out,
        list(args.overrides),
        args.executor,
        args.workers,
        args.threads,
        args.address,
        log=lambda m: print(m, flush=True),
        force=args.force,
        gpus=gpu_request(args),
        join=args.join,
        slurm=slurm_overrides(args),
    )
    if args.status:
        from wsnas.execution.slurm import queued_lines

        for line in [*sweep.status_lines(), *queued_lines(args.out)]:
            print(line)
        return 0
    if args.dry_run:
        for r in sweep.plan():
            print(f"{run_state(r.run_dir):<9} {r.name}")
        return 0
    from wsnas.cli.commands._io import stoppable

    result = stoppable(sweep.run, args.argv)
    counts = {s: result.count(s) for s in ("finished", "diverged", "failed", "pending")}
    print(
        json.dumps(
            {
                "sweep_dir": str(result.out_dir),
                "runs": len(result.runs),
                **counts,
                "complete": result.complete,
                **({"chosen": result.chosen} if result.chosen is not None else {}),
            }
        )
    )
    if args.join:
        return 0  # the driver records and reports outcomes; a joined pool's failures are its to retry
    if not result.ok:
        print(
            f"wsnas: {counts['failed']} run(s) failed; see {result.out_dir / 'failed.jsonl'}; "
            "rerun the same command to retry them",
            file=sys.stderr,
        )
    return 0 if result.ok else 1
