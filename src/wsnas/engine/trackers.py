"""Experiment trackers (`logging.wandb`, `logging.mlflow`): a run's curves and metrics in W&B or MLflow.

Each is a trainer hook (`wsnas.engine.loop.HookBase`) beside TensorBoard's, through the tracker's
own client, an optional extra (`pip install 'wsnas[wandb]'`, `'wsnas[mlflow]'`). Like TensorBoard,
a hook gets each record after it is in log.jsonl and the epoch's checkpoint is written, so the
tracker holds the same numbers as log.jsonl and never an epoch that a resume replays.

One tracker run per wsnas run: the tracker's run id is kept in the run dir (trackers.json), so a
resumed run (a crash, a preempted Slurm job) continues the same tracker run. Each tracker run
carries the resolved config, the identity (config hash, GT checksum, numerics, world size) and
the run dir path; a run inside a sweep dir (SWEEP/runs/NAME) is grouped by that sweep (W&B's
`group`, MLflow's `wsnas.sweep` tag).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from wsnas.core.atomic import write_text_atomic
from wsnas.core.errors import ConfigError
from wsnas.engine.loop import HookBase

TRACKERS_FILE = "trackers.json"
"""In the run dir: each tracker's run id, so a resume continues the same tracker run."""

SKIP = ("type", "epoch", "csv", "pool_size", "eval_images", "pbr_total")
"""Record fields that are bookkeeping, not curves."""

INSTALL = {"wandb": "wandb", "mlflow": "mlflow"}
"""Tracker -> the wsnas extra that installs its client."""


def require(tracker: str) -> Any:
    """The tracker's client module, or a ConfigError that says what to install."""
    try:
        module: Any
        if tracker == "wandb":
            import wandb as module
        else:
            import mlflow as module
    except ImportError:
        raise ConfigError(
            f"logging.{tracker}=true needs the {tracker} package: pip install 'wsnas[{INSTALL[tracker]}]'"
        ) from None
    return module


def metrics_of(record: dict[str, Any]) -> dict[str, float]:
    """A log record's curves as `train/KEY` (epoch records) or `eval/KEY` (evaluations): its numeric
    fields but the bookkeeping (`SKIP`); what TensorBoard, W&B and MLflow each get."""
    group = "train" if record.get("type") == "epoch" else str(record.get("type", "other"))
    return {
        f"{group}/{k}": v
        for k, v in record.items()
        if k not in SKIP and not isinstance(v, bool) and isinstance(v, int | float)
    }


def sweep_dir_of(run_path: Path) -> Path | None:
    """The sweep dir a run dir belongs to (SWEEP/runs/NAME with SWEEP/sweep.yaml), or None."""
    parent = run_path.resolve().parent
    if parent.name == "runs" and (parent.parent / "sweep.yaml").exists():
        return parent.parent
    return None


def run_context(trainer: Any) -> dict[str, Any]:
    """What a tracker run records about its wsnas run: config, identity, run dir, sweep."""
    path = Path(trainer.run.path).resolve()
    identity = getattr(trainer, "identity", None)
    if identity is None and (path / "identity.json").exists():
        identity = json.loads((path / "identity.json").read_text())
    sweep = sweep_dir_of(path)
    return {
        "run_dir": str(path),
        "name": path.name,
        "config": trainer.cfg.to_dict(),
        "config_hash": trainer.cfg.hash(),
        "identity": identity,
        "sweep_dir": str(sweep) if sweep is not None else None,
    }


def load_ids(run_path: Path) -> dict[str, Any]:
    f = Path(run_path) / TRACKERS_FILE
    if not f.exists():
        return {}
    try:
        doc = json.loads(f.read_text())
    except ValueError:
        raise ConfigError(f"{f} is not valid JSON; delete it to start new tracker runs") from None
    return doc if isinstance(doc, dict) else {}


def save_id(run_path: Path, tracker: str, entry: dict[str, Any]) -> None:
    doc = {**load_ids(run_path), tracker: entry}
    write_text_atomic(Path(run_path) / TRACKERS_FILE, json.dumps(doc, indent=2) + "\n")


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """A nested config as dotted keys (MLflow params are flat strings)."""
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, f"{key}."))
        else:
            out[key] = json.dumps(v) if not isinstance(v, str) else v
    return out


class TrackerHook(HookBase):
    """Opens (or reopens) the tracker run before the first epoch, logs each record, closes it."""

    tracker = "base"

    def __init__(self, project: str) -> None:
        self.project = project
        self.client = require(self.tracker)
        self.active = False

    def before_train(self, trainer: Any) -> None:
        ctx = run_context(trainer)
        entry = self.open(ctx, load_ids(Path(ctx["run_dir"])).get(self.tracker))
        save_id(Path(ctx["run_dir"]), self.tracker, entry)
        self.active = True

    def __call__(self, trainer: Any, record: dict[str, Any]) -> None:
        if self.active:
            self.log(int(record.get("epoch", 0)), metrics_of(record))

    after_epoch = after_eval = __call__

    def after_train(self, trainer: Any) -> None:
        if self.active:
            status = "finished" if (Path(trainer.run.path) / "summary.json").exists() else "stopped"
            self.close(status)
            self.active = False

    def open(self, ctx: dict[str, Any], known: dict[str, Any] | None) -> dict[str, Any]:
        """Start the tracker run, or continue KNOWN (this run dir's entry); return the entry to keep."""
        raise NotImplementedError

    def log(self, epoch: int, metrics: dict[str, float]) -> None:
        raise NotImplementedError

    def close(self, status: str) -> None:
        raise NotImplementedError


class WandbHook(TrackerHook):
    """Weights & Biases: one W&B run per run dir, curves against `epoch`; account, mode (online,
    offline) and entity come from W&B's own settings (`wandb login`, WANDB_MODE, WANDB_ENTITY).
    Its local files go to WANDB_DIR, or to the run dir (run_dir/wandb) when that is unset."""

    tracker = "wandb"

    def open(self, ctx: dict[str, Any], known: dict[str, Any] | None) -> dict[str, Any]:
        wandb = self.client
        run_id = (known or {}).get("id") or secrets.token_hex(6)
        sweep = ctx["sweep_dir"]
        self.run = wandb.init(
            project=self.project,
            id=run_id,
            resume="allow",
            name=ctx["name"],
            group=Path(sweep).name if sweep else None,
            dir=os.environ.get("WANDB_DIR") or ctx["run_dir"],
            config={
                **ctx["config"],
                "wsnas": {k: ctx[k] for k in ("run_dir", "config_hash", "identity", "sweep_dir")},
            },
            tags=["wsnas"],
            reinit="finish_previous",
        )
        self.run.define_metric("epoch")
        self.run.define_metric("train/*", step_metric="epoch")
        self.run.define_metric("eval/*", step_metric="epoch")
        return {"id": run_id, "project": self.project}

    def log(self, epoch: int, metrics: dict[str, float]) -> None:
        self.run.log({**metrics, "epoch": epoch})

    def close(self, status: str) -> None:
        self.run.finish(exit_code=0 if status == "finished" else 1)


class MlflowHook(TrackerHook):
    """MLflow: one MLflow run per run dir in experiment `logging.project`, step = epoch; the
    config as params (dotted keys) and config.json, the identity and run dir as tags. The
    server or store is `logging.mlflow_tracking_uri`, else MLflow's own (MLFLOW_TRACKING_URI)."""

    tracker = "mlflow"

    def __init__(self, project: str, tracking_uri: str | None = None) -> None:
        super().__init__(project)
        from mlflow.tracking import MlflowClient

        self.mlflow_client = MlflowClient(tracking_uri=tracking_uri)

    def open(self, ctx: dict[str, Any], known: dict[str, Any] | None) -> dict[str, Any]:
        c = self.mlflow_client
        if known and known.get("run_id"):
            self.run_id = str(known["run_id"])
            c.update_run(self.run_id, status="RUNNING")
            return dict(known)
        exp = c.get_experiment_by_name(self.project)
        exp_id = exp.experiment_id if exp is not None else c.create_experiment(self.project)
        ident = ctx["identity"] or {}
        tags = {
            "wsnas.run_dir": ctx["run_dir"],
            "wsnas.config_hash": ctx["config_hash"],
            "wsnas.identity": json.dumps(ident, sort_keys=True),
            "wsnas.gt_sha256": str((ident.get("gt") or {}).get("sha256", "")),
            "wsnas.numerics": str(ident.get("numerics", "")),
            "wsnas.world_size": str(ident.get("world_size", "")),
        }
        if ctx["sweep_dir"]:
            tags["wsnas.sweep"] = ctx["sweep_dir"]
        run = c.create_run(exp_id, run_name=ctx["name"], tags=tags)
        self.run_id = run.info.run_id
        from mlflow.entities import Param

        params = [Param(k, v[:6000]) for k, v in sorted(_flat(ctx["config"]).items())]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
            c.log_batch(self.run_id, params=params[i : i + 100])
        c.log_dict(self.run_id, ctx["config"], "config.json")
        return {"run_id": self.run_id, "experiment_id": exp_id, "tracking_uri": c.tracking_uri}

    def log(self, epoch: int, metrics: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, epoch) for k, v in metrics.items()]
        self.mlflow_client.log_batch(self.run_id, metrics=batch)

    def close(self, status: str) -> None:
        self.mlflow_client.set_terminated(self.run_id, "FINISHED" if status == "finished" else "KILLED")


def check_trackers(cfg: Any) -> None:
    """Before anything is written: every tracker `logging.*` asks for is installed."""
    for tracker in ("wandb", "mlflow"):
        if getattr(cfg, tracker):
            require(tracker)


def tracker_hooks(cfg: Any) -> list[HookBase]:
    """The W&B and MLflow hooks `logging.*` asks for (the caller keeps them to rank 0)."""
    hooks: list[HookBase] = []
    if cfg.wandb:
        hooks.append(WandbHook(cfg.project))
    if cfg.mlflow:
        hooks.append(MlflowHook(cfg.project, cfg.mlflow_tracking_uri))
    return hooks
