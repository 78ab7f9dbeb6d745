"""One trained model in the layout of the NDS release's DARTS files (facebookresearch/nds), for tests
that write small DARTS-NDS ground-truth files in the official structure."""

from __future__ import annotations


def model(
    genotype: dict,
    test_err: float,
    width: int = 16,
    depth: int = 8,
    train_err: float = 5.0,
    params: float = 500_000,
    flops: float = 80_000_000,
    seed: int = 0,
    lr: float = 0.1,
    epochs: int = 3,
) -> dict:
    """One trained model in the NDS release's layout (errors in %, params/flops raw counts)."""
    return {
        "job_id": seed,
        "rng_seed": seed,
        "net": {"genotype": genotype, "width": width, "depth": depth, "aux": False, "drop_prob": 0.0},
        "optim": {"base_lr": lr, "wd": 5e-4, "max_ep": epochs},
        "train_ep_top1": [60.0] * (epochs - 1) + [train_err],
        "train_ep_loss": [1.5] * (epochs - 1) + [float("nan")],
        "test_ep_top1": [70.0] * (epochs - 1) + [test_err],
        "train_it_loss": [2.0, 1.0],
        "params": params,
        "flops": flops,
        "iter_time": 0.05,
        "min_test_top1": min(70.0, test_err),
        "exp_mem": 1.0,
    }
