"""Landmark regularisation (Yu, Ranftl, Salzmann, CVPR 2021): which architectures, which pairs, how strong.

M landmark architectures with known stand-alone accuracy are ordered worst to best; each step after a
warm-up draws landmark pairs and adds coef * f(L_better - L_worse) to the super-net loss, f = relu or
softplus of the two cross-entropies on the step's batch (`wsnas.trainers.landmark_loss`). What follows
the authors' code (kcyu2014/nas-landmarkreg, `nasws/cnn/procedures/landmark_procedures.py`) and what
differs is listed in docs/factors.md. No torch here: the config check reads landmark files too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wsnas.core.errors import ArchError, BenchmarkError, ConfigError
from wsnas.spaces.base import SearchSpace

LANDMARK_STREAM = 0x1A4D
"""Second word of the seed of the landmark draw: the run's seed picks the landmarks, and the draw takes
nothing from the generators of training or of the pool."""


def read_archs_file(space: SearchSpace, path: str | Path) -> list[str]:
    """The arch strings of a landmark file (one a line; blank lines and `#` comments skipped), each in
    SPACE's own spelling; ConfigError naming the file and line of a malformed or repeated one."""
    p = Path(path).expanduser()
    try:
        lines = p.read_text().splitlines()
    except OSError as e:
        raise ConfigError(f"key 'landmark.archs_file': cannot read {p}: {e.strerror or e}") from None
    archs: list[str] = []
    for n, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            arch = space.format(space.parse(text))
        except (ArchError, ValueError) as e:
            raise ConfigError(
                f"landmark.archs_file {p} line {n}: not a {space.name} arch string ({e})"
            ) from None
        if arch in archs:
            raise ConfigError(f"landmark.archs_file {p} line {n}: {arch} is listed twice")
        archs.append(arch)
    return archs


@dataclass(frozen=True)
class Landmarks:
    """The landmark architectures, worst to best ground truth (the authors' order)."""

    rows: tuple[int, ...]
    """Rows of the ground-truth table."""
    arch_strs: tuple[str, ...]
    canonical: tuple[str, ...]
    gt: tuple[float, ...]
    archs: tuple[Any, ...]
    source: str
    """`drawn with seed N` or the file they were read from."""

    def __len__(self) -> int:
        return len(self.rows)

    def describe(self) -> dict[str, Any]:
        """What the summary records: M, the archs and the ground-truth values that were an input."""
        return {
            "num_archs": len(self),
            "source": self.source,
            "archs": list(self.arch_strs),
            "gt_acc": [round(g, 4) for g in self.gt],
            "note": (
                f"the ground-truth accuracies of these {len(self)} landmark architectures were an input of "
                f"training (in real use: {len(self)} stand-alone trainings); they are left out of the "
                "evaluation pool (other encodings of the same cells are not: "
                "pool_archs_sharing_a_landmark_cell counts them)"
            ),
        }


def select_landmarks(
    space: SearchSpace, bench: Any, num_archs: int, archs_file: str | None, seed: int
) -> Landmarks:
    """NUM_ARCHS landmarks: the file's archs, or a uniform draw without replacement from the ground
    truth's rows with the run's SEED (the authors' `random` sampling); sorted worst to best."""
    if archs_file is not None:
        strs = read_archs_file(space, archs_file)
        try:
            rows = [bench.row(s) for s in strs]
        except BenchmarkError as e:
            raise ConfigError(f"landmark.archs_file {archs_file}: {e}") from None
        source = str(archs_file)
    else:
        if num_archs > bench.size:
            raise ConfigError(
                f"key 'landmark.num_archs': {num_archs} landmarks, but the ground truth has {bench.size} rows"
            )
        rng = np.random.default_rng([seed, LANDMARK_STREAM])
        rows = [int(r) for r in rng.choice(bench.size, size=num_archs, replace=False)]
        source = f"drawn from the ground truth with seed {seed}"
    rows = sorted(rows, key=lambda r: (float(bench.acc[r]), r))
    strs = [str(bench.arch[r]) for r in rows]
    return Landmarks(
        rows=tuple(rows),
        arch_strs=tuple(strs),
        canonical=tuple(str(bench.canonical[r]) for r in rows),
        gt=tuple(float(bench.acc[r]) for r in rows),
        archs=tuple(space.parse(s) for s in strs),
        source=source,
    )


def draw_pairs(rng: np.random.Generator, num: int, pairs: int) -> list[tuple[int, int]]:
    """PAIRS landmark pairs (worse, better) as the authors' `random_pairwise_loss_step` draws them:
    a uniform in 0..num-2, then b uniform in a+1..num-1 (not uniform over pairs: low a is favoured)."""
    out = []
    for _ in range(pairs):
        a = int(rng.integers(0, num - 1))
        b = int(rng.integers(a + 1, num))
        out.append((a, b))
    return out


def start_epoch(epochs: int, warmup_fraction: float) -> int:
    """0-based epoch from which the ranking term is on (authors' `supernet_warmup_epoch`)."""
    return min(round(epochs * warmup_fraction), epochs - 1)


def coefficient(epoch: int, epochs: int, start: int, coef: float, schedule: str) -> float:
    """The term's coefficient in 0-based EPOCH (0 before START), per the authors' `adjust_landmark_coef`.

    `cosine_increase` is their formula as called once per epoch: 0.5 * (1 - cos(pi * (e + 1) / epochs))
    with e the epochs since START; it divides by all epochs, not those after START, so it ends below
    COEF (NB201 400 epochs, start 150: at 0.69 * coef)."""
    if epoch < start:
        return 0.0
    if schedule == "constant":
        return coef
    if schedule == "cosine_increase":
        return coef * 0.5 * (1.0 - math.cos(math.pi * (epoch - start + 1) / epochs))
    raise ValueError(f"unknown landmark schedule {schedule!r}")
