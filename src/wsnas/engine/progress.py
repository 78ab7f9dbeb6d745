"""What a person sees while a run trains: a start line, progress over the whole run, eval progress.

A hook (`wsnas.engine.loop.HookBase`), so the trainers hold no printing. Everything goes to
stderr; stdout stays for the command's result. The start line (and a resume's "resuming
... at epoch k/N") is printed whenever `runtime.progress` is on; the bars and the
per-evaluation lines only on a terminal. The run's ETA is measured: the current epoch's
step rate, the mean of the finished epochs and the mean of the finished evaluations
(this process's and, after a resume, those in the checkpoint's history). Until an epoch
(or an evaluation) has finished, its cost is estimated from the current step rate
(`estimate_eval_seconds`) and the ETA says so (`~8m05s (est.)`).
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

import torch
from tqdm import tqdm

from wsnas.core.threads import busy_note
from wsnas.engine.loop import EpochTrainer, HookBase


def device_text(device: torch.device) -> str:
    """cpu with its thread count, or the GPU's name."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    n = torch.get_num_threads()
    return f"{device.type}, {n} thread{'s' if n != 1 else ''}"


def duration(seconds: float) -> str:
    """'45s', '3m12s', '2h05m'."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def start_line(trainer: EpochTrainer) -> str:
    """One line: command, run dir, what trains, on what, for how long, where to watch."""
    run = trainer.run.path
    command = trainer.resume_command.removesuffix(" --resume")
    parts = [
        f"{command}: {run}",
        *(f"{k} {v}" for k, v in trainer.describe().items()),
        f"device {device_text(trainer.device)}",
        f"{trainer.epochs} epochs",
    ]
    watch = f"watch {run / 'log.jsonl'}"
    if getattr(trainer.cfg, "logging", None) is not None and trainer.cfg.logging.tensorboard:
        watch += f", tensorboard --logdir {run / 'tb'}"
    return " | ".join([*parts, watch])


class ProgressHook(HookBase):
    """Start line, then (on a terminal) one bar per epoch and per evaluation with the run's ETA.

    In a Jupyter kernel, where stderr is no terminal, progress shows too: tqdm's notebook widgets
    where ipywidgets is installed (a widget updates in place); without them one line per epoch and
    per evaluation, not text bars, whose every redraw the saved notebook would keep (hundreds of
    lines an epoch in some front ends). `wsnas.train(cfg, progress=False)` (or
    `runtime.progress=false`) turns the hook off.
    """

    def __init__(self, stream: IO[str] | None = None, bars: bool | None = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        isatty = getattr(self.stream, "isatty", lambda: False)
        notebook = stream is None and in_notebook()
        widgets = notebook and notebook_bar_class() is not tqdm
        self.bars = bool(isatty() or widgets) if bars is None else bars
        self.lines = bars is None and notebook and not widgets and not self.bars
        """A line per epoch instead of bars (a notebook without ipywidgets)."""
        self.bar_class: type[tqdm] = notebook_bar_class() if widgets else tqdm
        self.bar: tqdm | None = None
        self.phase: str | None = None
        """"train" or "eval" while a bar runs."""
        self.epoch_s: list[float] = []
        self.eval_s: list[float] = []
        self.busy = self.busy_short = ""
        """`wsnas.core.threads.busy_note` at the start and before each epoch ('' on an idle machine)."""
        self.step_rate: tuple[float, int, int] | None = None
        """(seconds so far, steps done, images done) of the epoch that runs now."""

    def _print(self, text: str) -> None:
        if self.bar is not None:
            self.bar.clear()
        print(text, file=self.stream, flush=True)

    def before_train(self, trainer: EpochTrainer) -> None:
        self.epoch_s = [r["seconds"] for r in trainer.history if r["type"] == "epoch" and "seconds" in r]
        self.eval_s = [r["seconds"] for r in trainer.history if r["type"] == "eval" and "seconds" in r]
        self._print(start_line(trainer))
        self.busy, self.busy_short = self._busy(trainer, own_load=0.0)
        if self.busy:
            self._print(f"wsnas: {self.busy}")
        if 0 < trainer.epoch < trainer.epochs:
            done = "epoch 1 is" if trainer.epoch == 1 else f"epochs 1-{trainer.epoch} are"
            self._print(
                f"resuming {trainer.run.path} at epoch {trainer.epoch + 1}/{trainer.epochs} "
                f"({done} in its checkpoint)"
            )

    def before_epoch(self, trainer: EpochTrainer, steps: int) -> None:
        if self.epoch_s:  # after a trained epoch the load average holds this run's own threads too
            self.busy, self.busy_short = self._busy(trainer, own_load=float(torch.get_num_threads()))
        self._new_bar(steps, f"epoch {trainer.epoch + 1}/{trainer.epochs}", "train")

    @staticmethod
    def _busy(trainer: EpochTrainer, own_load: float) -> tuple[str, str]:
        """`busy_note`, long and short, for a CPU run ('' on a GPU: its threads only feed the device)."""
        device = getattr(trainer, "device", None)
        if device is None or device.type != "cpu":
            return "", ""
        n = torch.get_num_threads()
        return busy_note(n, own_load=own_load), busy_note(n, own_load=own_load, short=True)

    def after_sync(self, trainer: EpochTrainer, steps_done: int) -> None:
        if self.bar is None:
            if self.lines:  # no bar to time the epoch: the step rate still estimates the first evaluation
                elapsed = time.perf_counter() - trainer.stats.t0
                self.step_rate = (elapsed, steps_done, int(getattr(trainer.stats, "images", 0)))
            return
        bar = self.bar
        bar.update(steps_done - bar.n)
        elapsed = bar.format_dict["elapsed"]
        self.step_rate = (elapsed, steps_done, int(getattr(trainer.stats, "images", 0)))
        left = elapsed / max(steps_done, 1) * (bar.total - steps_done)
        busy = {"busy": self.busy_short} if self.busy else {}
        bar.set_postfix(
            {**trainer.stats.postfix(steps_done), "run ETA": self.eta(trainer, left), **busy}, refresh=True
        )

    def after_epoch(self, trainer: EpochTrainer, record: dict[str, Any]) -> None:
        self.epoch_s.append(float(record["seconds"]))
        self._close_bar()
        if self.lines:
            shown = ", ".join(f"{label} {record[key]:{f}}" for key, label, f in EPOCH_FIELDS if key in record)
            took, left = duration(float(record["seconds"])), self.eta(trainer, 0.0)
            self._print(f"epoch {record['epoch']}/{trainer.epochs}: {shown}, {took} (run ETA {left})")

    def before_eval(self, trainer: EpochTrainer, total: int) -> None:
        unit = "arch" if hasattr(trainer, "pool") else "batch"  # a super-net's pool, a net's eval batches
        self._new_bar(total, f"eval after epoch {trainer.epoch}/{trainer.epochs}", "eval", unit)

    def eval_progress(self, trainer: EpochTrainer, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.update(done - self.bar.n)

    def after_eval(self, trainer: EpochTrainer, record: dict[str, Any]) -> None:
        if "seconds" in record:
            self.eval_s.append(float(record["seconds"]))
        self._close_bar()
        if self.bars or self.lines:
            shown = ", ".join(f"{label} {record[key]:.3f}" for key, label in EVAL_FIELDS if key in record)
            left = self.eta(trainer, 0.0)
            self._print(f"epoch {record['epoch']}/{trainer.epochs}: {shown} (run ETA {left})")

    def after_train(self, trainer: EpochTrainer) -> None:
        self._close_bar()

    def eta(self, trainer: EpochTrainer, left_now: float) -> str:
        """Time left in the run: the rest of what runs now, the epochs after it, the evaluations to come.

        Measured means where there are some; before that, the epoch that runs now gives the
        step rate (epoch = steps x rate) and an evaluation's cost is estimated from it
        (`estimate_eval_seconds`); the text then says it is an estimate.
        """
        epochs_after = trainer.epochs - trainer.epoch - (self.phase == "train")
        evals_after = sum(1 for e in trainer.eval_epochs if e > trainer.epoch)
        estimated = False
        epoch_s = _mean(self.epoch_s) if self.epoch_s else None
        if epoch_s is None and epochs_after and self.step_rate is not None and self.bar is not None:
            elapsed, steps, _ = self.step_rate
            epoch_s, estimated = elapsed / max(steps, 1) * self.bar.total, True
        eval_s = _mean(self.eval_s) if self.eval_s else None
        if eval_s is None and evals_after:
            eval_s = self.estimate_eval_seconds(trainer)
            estimated = estimated or eval_s is not None
        if (epoch_s is None and epochs_after) or (eval_s is None and evals_after):
            known = left_now + (epoch_s or 0.0) * epochs_after + (eval_s or 0.0) * evals_after
            return duration(known) + " + " + ("epochs" if epoch_s is None and epochs_after else "evaluations")
        seconds = left_now + (epoch_s or 0.0) * epochs_after + (eval_s or 0.0) * evals_after
        return f"~{duration(seconds)} (est.)" if estimated else duration(seconds)

    def estimate_eval_seconds(self, trainer: EpochTrainer) -> float | None:
        """One evaluation's seconds before any was measured: its forward passes (pool archs x eval
        images) at FORWARD_SHARE of the training cost per image measured in this epoch."""
        if self.step_rate is None:
            return None
        elapsed, _, images = self.step_rate
        batches = getattr(trainer, "eval_batches", None)
        if not images or not batches:
            return None
        eval_images = sum(int(b[1].numel()) for b in batches)
        archs = len(getattr(trainer, "pool", None) or [None])
        return elapsed / images * FORWARD_SHARE * archs * eval_images

    # ---- bars ---------------------------------------------------------------------------
    def _new_bar(self, total: int, desc: str, phase: str, unit: str = "step") -> None:
        self._close_bar()
        self.phase = phase
        if self.bars:
            self.bar = self.bar_class(
                total=total, desc=desc, unit=unit, file=self.stream, leave=False, dynamic_ncols=True
            )

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self.phase = None


FORWARD_SHARE = 1 / 3
"""A forward pass's share of a training step's cost per image (forward + backward, about 3 forwards);
what an evaluation is estimated at before one was measured."""


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


EPOCH_FIELDS = (("train_loss", "loss", ".3f"), ("train_acc", "acc", ".1f"), ("images_per_s", "img/s", ".0f"))
"""What the per-epoch line (a notebook without ipywidgets) shows, where the record has it."""

EVAL_FIELDS = (
    ("skdt", "s-KdT"),
    ("kdt", "KdT"),
    ("supernet_acc_mean", "super-net acc"),
    ("final_acc", "final acc"),
    ("eval_acc", "eval acc"),
)
"""What the per-evaluation line shows, where the record has it (super-net or stand-alone run)."""


def progress_hooks(trainer: EpochTrainer) -> list[HookBase]:
    """The progress hook where `runtime.progress` is on (rank 0 only)."""
    return [ProgressHook()] if trainer.progress else []


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (where stderr is no terminal, yet bars show)."""
    ipython = sys.modules.get("IPython")  # never imported here: a kernel has it loaded already
    try:
        shell = ipython.get_ipython() if ipython is not None else None
    except Exception:  # noqa: BLE001 - an odd IPython is simply not a notebook
        return False
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def notebook_bar_class() -> type[tqdm]:
    """tqdm's notebook widget bar where ipywidgets is installed, else the text bar (`ProgressHook`
    then prints lines instead); without tqdm.auto's warning about the missing widgets."""
    try:
        import ipywidgets  # noqa: F401
        from tqdm.notebook import tqdm as notebook_tqdm
    except ImportError:
        return tqdm
    return notebook_tqdm
