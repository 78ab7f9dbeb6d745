"""What the engine checkpoints each epoch and how a run resumes (super-net and stand-alone runs alike)."""

from __future__ import annotations

from typing import Any

from wsnas.core.errors import WsnasError
from wsnas.engine.runtime import rng_state, set_rng_state


class Checkpointed:
    """Mixin for trainers holding cfg, run, model, optimizer, scheduler, rng, epoch, history, elapsed.

    The checkpoint carries the config hash, so a run dir never resumes under
    a config that would change its result.
    """

    cfg: Any
    run: Any
    model: Any
    optimizer: Any
    scheduler: Any
    rng: Any
    epoch: int
    history: list[dict[str, Any]]
    elapsed: float

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "config_hash": self.cfg.hash(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng_state(self.rng),
            "history": self.history,
            "elapsed": self.elapsed,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["config_hash"] != self.cfg.hash():
            raise WsnasError(
                f"checkpoint {self.run.checkpoint} was written by config {state['config_hash']}, "
                f"but {self.run.config} resolves to {self.cfg.hash()}"
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"], self.rng)
        self.epoch, self.history, self.elapsed = state["epoch"], state["history"], state["elapsed"]

    def resume(self) -> None:
        """Continue from the run dir's last checkpoint (if any); log.jsonl is cut to match it."""
        state = self.run.load_checkpoint()
        if state is not None:
            self.load_state_dict(state)
        self.run.rewrite_log(self.history)
