"""The Table 5 study's cost from measured step times: hours per run and for the whole spec, one run at a time.

Inputs are the JSON lines of `search_algorithms.py` (a search step per algorithm and a single-path
step) and `search_controllers.py` (ENAS's and NAO's weight steps, their controller work, an eval-mode
forward), measured on the device the projection is for. Each run of the spec (expanded by the sweep
planner, as `wsnas sweep` would) costs:

- its epochs x weight steps per epoch ((50,000 - data.valid_size) x train_portion / batch) x the
  algorithm's step (DARTS-type: an architecture step and a weight step; ENAS/NAO/Random-NAS: a
  weight step), scaled linearly from the measured batch to the run's;
- ENAS: per epoch `controller_steps` controller steps of `controller_aggregate` samples;
  NAO: per round its pool scored (one eval forward per architecture) and `controller_epochs` epochs;
- its pool evaluations (eval.epochs in the run and the last: pool_size architectures x the eval
  images, at the eval forward's rate).

Linear batch scaling is right on a CPU and pessimistic on a GPU for big batches; steps measured on
the NB201 super-net (C=16, N=5) only cost NB201 specs.

    python benchmarks/search_algorithms.py --no-reference --threads 2 > steps.json
    python benchmarks/search_controllers.py --threads 2 > controllers.json
    python benchmarks/table5_projection.py --steps steps.json --controllers controllers.json
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path
from typing import Any

from _projection import CIFAR10_TEST, CIFAR10_TRAIN

from wsnas.config import RunConfig
from wsnas.spaces.algorithms import NONE, resolved_settings
from wsnas.sweep import Planner, load_spec

SPECS = Path(__file__).resolve().parents[1] / "src" / "wsnas" / "configs" / "sweeps"


def step_seconds(steps: dict[str, Any], ctrl: dict[str, Any]) -> dict[str, float]:
    """Seconds of one step per algorithm at the measured batch."""
    med = steps["seconds_per_step_median"]
    out = {NONE: med["single_path"]}
    out.update({k.removeprefix("wsnas_"): v for k, v in med.items() if k.startswith("wsnas_")})
    c = ctrl["seconds_median"]
    out["enas"], out["nao"] = c["enas_weight_step"], c["nao_weight_step"]
    return out


def run_seconds(cfg: RunConfig, steps: dict[str, Any], ctrl: dict[str, Any]) -> dict[str, float]:
    """Training, controller and evaluation seconds of one run (module docstring)."""
    name, p = cfg.algorithm.name, cfg.protocol
    b_step, b_ctrl = steps["batch_size"], ctrl["batch_size"]
    per_step = step_seconds(steps, ctrl)
    if name not in per_step:
        raise SystemExit(f"no measured step for algorithm {name} (rerun search_algorithms.py with it)")
    measured_batch = b_ctrl if name in ("enas", "nao") else b_step
    weight_steps = int((CIFAR10_TRAIN - cfg.data.valid_size) * cfg.data.train_portion) // p.batch_size
    train = p.epochs * weight_steps * per_step[name] * p.batch_size / measured_batch
    c = ctrl["seconds_median"]
    scale = p.batch_size / b_ctrl
    controller = 0.0
    if name != NONE:
        s = resolved_settings(cfg)
        if name == "enas":
            per = c["enas_controller_step"] * s["controller_aggregate"] / 20 * scale
            controller = p.epochs * s["controller_steps"] * per
        elif name == "nao":
            rounds = min(int(s["rounds"]), p.epochs)
            nao_epoch = c["nao_controller_epoch"] * s["seed_archs"] / ctrl["nao_epoch_at_reference"]["pool"]
            controller = rounds * (
                s["seed_archs"] * c["eval_forward"] * scale + s["controller_epochs"] * nao_epoch
            )
    evals = len({e for e in cfg.eval.epochs if 1 <= e <= p.epochs} | {p.epochs})
    n_eval = min(cfg.eval.num_images or CIFAR10_TEST, CIFAR10_TEST)
    evaluation = evals * cfg.eval.pool_size * math.ceil(n_eval / b_ctrl) * c["eval_forward"]
    return {"train_s": train, "controller_s": controller, "eval_s": evaluation}


def label(assign: dict[str, Any]) -> str:
    if not assign:
        return "base (Random-NAS, tuned)"
    return ", ".join(f"{k}={v}" for k, v in assign.items())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=Path, required=True, help="JSON line of search_algorithms.py")
    p.add_argument("--controllers", type=Path, required=True, help="JSON line of search_controllers.py")
    p.add_argument("--spec", default="table5-nb201", help="a shipped sweep spec name or a path")
    a = p.parse_args()
    steps = json.loads(a.steps.read_text().strip().splitlines()[-1])
    ctrl = json.loads(a.controllers.read_text().strip().splitlines()[-1])
    path = Path(a.spec) if Path(a.spec).exists() else SPECS / f"{a.spec}.yaml"
    spec, spec_dir = load_spec(path)
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run in Planner(spec, spec_dir, tmp).one_at_a_time():
            cost = run_seconds(run.cfg, steps, ctrl)
            row = rows.setdefault(
                label(run.assign),
                {"algorithm": run.cfg.algorithm.name, "epochs": run.cfg.protocol.epochs, "runs": 0},
            )
            row["runs"] += 1
            for k, v in cost.items():
                row[k] = row.get(k, 0.0) + v
    total = sum(r["train_s"] + r["controller_s"] + r["eval_s"] for r in rows.values()) / 3600
    for r in rows.values():
        for k in ("train_s", "controller_s", "eval_s"):
            r[k.replace("_s", "_h")] = round(r.pop(k) / 3600, 2)
    print(
        json.dumps(
            {
                "spec": a.spec,
                "device": steps["device"],
                "threads": steps.get("threads"),
                "measured_batch": {"search_steps": steps["batch_size"], "controllers": ctrl["batch_size"]},
                "rows": rows,
                "runs": sum(r["runs"] for r in rows.values()),
                "total_hours_one_at_a_time": round(total, 1),
                "note": "a projection from measured step times (linear in epochs, steps and batch), not a "
                "measured study; hours of each row are summed over its seeds",
            }
        )
    )


if __name__ == "__main__":
    main()
