"""The one reader of a run dir: what a run wrote, read back as a `RunResult`.

`wsnas.train` returns it, `wsnas.open_run(path)` gives the same object for any run dir
(finished, cut, diverged or still running), `wsnas show` and the end table of
`wsnas train` print it (`wsnas.cli.views`) and the report aggregates it
(`wsnas.report.runs`). Everything comes from the files a run writes (config.yaml,
log.jsonl, evals/epoch_NNNN.csv, summary.json, identity.json, the lock), never from a live
trainer, so every reader sees the same numbers. A torn last line of log.jsonl (a killed
writer) is left out; a missing or unreadable summary.json reads as None (a run that has
not finished).
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from wsnas.config import RunConfig, StandaloneConfig, load_config
from wsnas.core.dirlock import holder
from wsnas.core.errors import WsnasError
from wsnas.engine.identity import read_identity
from wsnas.engine.rundir import RunDir

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ARCH_COLUMNS",
    "Evaluation",
    "RunResult",
    "open_run",
    "read_config",
    "read_log",
    "read_run",
    "read_summary",
]

Status = Literal["finished", "diverged", "running", "cut", "started"]

ARCH_COLUMNS: dict[str, type] = {
    "arch": str,
    "canonical": str,
    "index": int,
    "supernet_acc": float,
    "gt_acc": float,
    "gt_rank": int,
}
"""The columns of an evaluation's per-architecture rows (evals/epoch_NNNN.csv) and their types."""


def read_log(path: str | os.PathLike) -> list[dict[str, Any]]:
    """log.jsonl's records in file order; a torn last line (a killed writer) is left out."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            records.append(rec)
    return records


def read_summary(path: str | os.PathLike) -> dict[str, Any] | None:
    """summary.json as a dict; None where it is missing or unreadable (the run has not ended)."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def read_arch_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """An evaluation's CSV as typed rows (`ARCH_COLUMNS`); [] where the file is gone."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        return []
    return [{k: cast(r[k]) for k, cast in ARCH_COLUMNS.items() if k in r} for r in rows]


def _frame(rows: list[dict[str, Any]], columns: list[str] | None = None) -> pd.DataFrame:
    """ROWS as a pandas DataFrame (pandas is optional: `pip install pandas`)."""
    try:
        import pandas as pd
    except ImportError:
        raise WsnasError("to_pandas() needs pandas: pip install pandas") from None
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True, repr=False)
class Evaluation:
    """One evaluation of a run: its metrics (log.jsonl) and its per-architecture rows (the CSV)."""

    epoch: int
    metrics: dict[str, Any]
    """The eval record without `type` and `epoch`: a super-net's supernet_acc_mean, kdt, skdt,
    spearman, final_acc, pbr, the ranking metrics of Ning et al. (ptop_5pct, br_5pct, wr_5pct at
    K = 1, 5, 10 %) and ndcg (with their definitions and `metrics_version`), pool_size, ...; a
    stand-alone net's eval_acc."""
    csv: Path | None
    """The per-architecture CSV (super-net runs), None for a stand-alone run."""

    @cached_property
    def archs(self) -> list[dict[str, Any]]:
        """One row per pool architecture: arch, canonical, index, supernet_acc, gt_acc, gt_rank."""
        return [] if self.csv is None else read_arch_rows(self.csv)

    def to_pandas(self) -> pd.DataFrame:
        """`archs` as a DataFrame (needs pandas)."""
        return _frame(self.archs, list(ARCH_COLUMNS))

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.metrics.items() if k in _SHOWN)
        return f"Evaluation(epoch={self.epoch}, {shown or 'no metrics'})"


_SHOWN = ("supernet_acc_mean", "kdt", "skdt", "final_acc", "pbr", "ptop_5pct", "ndcg", "eval_acc")
"""The metrics a short repr shows, where the record has them."""


@dataclass(frozen=True, repr=False)
class RunResult:
    """A run dir as wsnas reads it back: config, identity, per-epoch metrics, evaluations, summary.

    Two results of one run dir compare equal when its files hold the same; `status` is read
    live (a running run's lock). Rows and frames are plain Python; `to_pandas` needs pandas.
    """

    path: Path
    """The run dir."""
    config: dict[str, Any]
    """config.yaml as written: the resolved config, every field (`cfg` is it typed)."""
    log: tuple[dict[str, Any], ...]
    """log.jsonl's records in order: `type` "epoch" then, at evaluated epochs, "eval"."""
    summary: dict[str, Any] | None
    """summary.json (status finished or diverged); None while the run has not ended."""
    identity: dict[str, Any] | None = field(default=None)
    """What keeps results apart (config hash, GT checksum, numerics, world size); None: legacy."""

    # ---- what the run is -----------------------------------------------------------------
    @property
    def name(self) -> str:
        """The run's folder name."""
        return self.path.name

    @property
    def kind(self) -> Literal["supernet", "standalone"]:
        """ "standalone" for a stand-alone net (P_proxy), else "supernet"."""
        return "standalone" if "proxy" in self.config else "supernet"

    @property
    def standalone(self) -> bool:
        """Whether this is a stand-alone run (no pool, no per-architecture rows)."""
        return self.kind == "standalone"

    @cached_property
    def cfg(self) -> RunConfig | StandaloneConfig:
        """config.yaml as the typed config (RunConfig or StandaloneConfig), as a resume loads it."""
        return load_config(
            self.path / "config.yaml", model=StandaloneConfig if self.standalone else RunConfig
        )

    @property
    def config_hash(self) -> str:
        """The config's hash (run dir name, checkpoint guard): recorded, else computed from `cfg`."""
        recorded = (self.summary or {}).get("config_hash") or (self.identity or {}).get("config")
        if isinstance(recorded, str):
            return recorded
        return self.cfg.hash()

    @property
    def planned_epochs(self) -> int | None:
        """Epochs the run is set to train (stand-alone: None where the space's default applies)."""
        section = self.config.get("proxy" if self.standalone else "protocol") or {}
        value = section.get("epochs")
        return int(value) if isinstance(value, int) else None

    # ---- where it is -----------------------------------------------------------------------
    @property
    def writer_pid(self) -> int | None:
        """The pid writing the run dir now (0 if unknown), None when no process does."""
        return holder(self.path)

    @property
    def status(self) -> Status:
        """finished | diverged (summary.json) | running (a process holds its lock) | cut | started."""
        ended = (self.summary or {}).get("status")
        if ended in ("finished", "diverged"):
            return ended
        if self.writer_pid is not None:
            return "running"
        return "cut" if self.epochs else "started"

    @property
    def finished(self) -> bool:
        """Whether summary.json says the run finished (its `final` metrics are the summary's)."""
        return (self.summary or {}).get("status") == "finished"

    # ---- what it measured ------------------------------------------------------------------
    @property
    def epochs(self) -> list[dict[str, Any]]:
        """One dict per finished epoch: epoch, lr, train_loss, train_acc, images_per_s, seconds."""
        return [{k: v for k, v in r.items() if k != "type"} for r in self.log if r.get("type") == "epoch"]

    @cached_property
    def evaluations(self) -> list[Evaluation]:
        """Each evaluation in epoch order (its metrics; its per-architecture rows, read when asked)."""
        evals = sorted((r for r in self.log if r.get("type") == "eval"), key=lambda r: r["epoch"])
        out = []
        for r in evals:
            name = r.get("csv") or f"evals/epoch_{int(r['epoch']):04d}.csv"
            csv_path = None if self.standalone else self.path / name
            metrics = {k: v for k, v in r.items() if k not in ("type", "epoch")}
            out.append(Evaluation(int(r["epoch"]), metrics, csv_path))
        return out

    @property
    def final(self) -> dict[str, Any]:
        """The final metrics: summary.json's for a finished run, else the last evaluation's ({} if none)."""
        if self.finished:
            return dict((self.summary or {}).get("final") or {})
        return dict(self.evaluations[-1].metrics) if self.evaluations else {}

    @property
    def archs(self) -> list[dict[str, Any]]:
        """The last evaluation's per-architecture rows ([] before the first evaluation)."""
        return self.evaluations[-1].archs if self.evaluations else []

    @property
    def top_archs(self) -> list[dict[str, Any]]:
        """A finished super-net's top-k archs by super-net accuracy, with their GT (summary.json)."""
        top = (self.summary or {}).get("top_archs") or {}
        return list(top.get("archs") or [])

    def to_pandas(self) -> pd.DataFrame:
        """One row per epoch: the epoch's training numbers and, where it was evaluated, the
        evaluation's numeric metrics (NaN elsewhere). Needs pandas."""
        evals = {e.epoch: e.metrics for e in self.evaluations}
        rows = []
        for r in self.epochs:
            ev = {
                ("eval_seconds" if k == "seconds" else k): v
                for k, v in evals.get(r["epoch"], {}).items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            }
            rows.append({**r, **ev})
        return _frame(rows)

    def __repr__(self) -> str:
        """One line (a notebook shows it): where, what, how far, the final metrics."""
        of = f"/{self.planned_epochs}" if self.planned_epochs else ""
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.final.items() if k in _SHOWN)
        return (
            f"RunResult({str(self.path)!r}, {self.kind}, {self.status}, epochs {len(self.epochs)}{of}, "
            f"evaluated at {[e.epoch for e in self.evaluations]}{', ' + shown if shown else ''})"
        )

    def archs_to_pandas(self) -> pd.DataFrame:
        """Every evaluation's per-architecture rows, long form with an `epoch` column. Needs pandas."""
        rows = [{"epoch": e.epoch, **a} for e in self.evaluations for a in e.archs]
        return _frame(rows, ["epoch", *ARCH_COLUMNS])


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """A run dir's config.yaml as a mapping (as written: the resolved config); WsnasError if unreadable."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise WsnasError(f"{path} is unreadable: {e}") from None
    return config if isinstance(config, dict) else {}


def read_run(path: str | os.PathLike) -> RunResult:
    """The files of run dir PATH as a RunResult, without checking that wsnas made the folder.

    An unreadable config.yaml reads as {} here (`cfg` then raises the config loader's error);
    `open_run` refuses it.
    """
    path = Path(path)
    try:
        config = read_config(path / "config.yaml")
    except WsnasError:
        config = {}
    summary = read_summary(path / "summary.json")
    found = (summary or {}).get("identity")
    identity = found if isinstance(found, dict) else read_identity(path)
    log = tuple(read_log(path / "log.jsonl"))
    return RunResult(path, config, log, summary, identity)


def open_run(path: str | os.PathLike) -> RunResult:
    """Run dir PATH (finished, cut, diverged or running) as a RunResult; a clear error otherwise."""
    run = RunDir(path)
    if not run.path.is_dir():
        raise WsnasError(f"{run.path} is not a run dir: no such folder")
    if run.never_started():
        raise run.not_a_run_dir()
    if not run.is_run_dir() or not run.config.is_file():
        raise WsnasError(
            f"{run.path} is not a run dir: no config.yaml written by wsnas "
            "(give the folder of one run, e.g. runs/NAME, or a sweep's runs/NAME)"
        )
    read_config(run.config)  # an unreadable config is an error here, not an empty run
    return read_run(run.path)
