"""The tiny nb201_mini run the algorithm and check-once tests share: overrides for a 4-channel,
1-cell-per-stage super-net on scikit-learn's digits, trained on 1 CPU thread."""

from __future__ import annotations

MINI_NET = [
    "space.name=nb201_mini",
    "data.name=digits",
    "lowfi.channels=4",
    "lowfi.cells_per_stage=1",
]
"""The space, the data and the 4-channel super-net; the first two alone name a valid config."""


def mini_run(
    *, pool: int = 16, epochs: int | None = None, eval_batch: int = 256, valid_size: int | None = 300
) -> list[str]:
    """MINI_NET trained on the CPU, 1 thread, batch 64, no progress bars: `epochs` (unset: the
    default), an evaluation pool of `pool` encodings in batches of `eval_batch`, and `valid_size`
    training images held out for validation (None: the default)."""
    return [
        *MINI_NET,
        "protocol.batch_size=64",
        *([f"protocol.epochs={epochs}"] if epochs is not None else []),
        f"eval.pool_size={pool}",
        f"eval.batch_size={eval_batch}",
        "runtime.device=cpu",
        "runtime.threads=1",
        "runtime.progress=false",
        *([f"data.valid_size={valid_size}"] if valid_size is not None else []),
    ]
