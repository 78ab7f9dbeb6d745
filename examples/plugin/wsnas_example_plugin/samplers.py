"""first_of_two: Random-NAS with a bias, through nothing but the codec every space has.

Each step draws two paths uniformly over encodings (`space.sample`, as random_nas does) and trains
the one whose architecture string (`space.format`, the benchmark's notation) sorts first. The draws
come from the trainer's generator, which checkpoints hold, so a resumed run draws the same paths.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from wsnas.spaces.samplers import SAMPLERS, Sampler


@SAMPLERS.register("first_of_two")
class FirstOfTwo(Sampler):
    """Two uniform draws per step; trains the one whose arch string sorts first (example plugin)."""

    any_space = True  # uses only sample and format: no space needs to list it in its `samplers`

    def step_paths(self, rng: np.random.Generator) -> list[Any]:
        a, b = self.space.sample(rng), self.space.sample(rng)
        return [min(a, b, key=self.space.format)]
