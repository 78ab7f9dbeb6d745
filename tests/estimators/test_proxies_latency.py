"""latency: the median of the timed forwards, the warm-up left out, in eval mode without gradients,
for one image and for the whole minibatch (a network that sleeps known times per call)."""

from __future__ import annotations

import time

import torch
from test_proxies_common import _float64, batch  # noqa: F401  (the float64 fixture)
from torch import nn

from wsnas.estimators.proxies import latency
from wsnas.estimators.proxies.latency import LATENCY_REPEATS, LATENCY_WARMUP


class Sleeper(nn.Module):
    """Sleeps SCHEDULE[call] seconds per call; records the batch size, mode and grad state it saw."""

    def __init__(self, schedule: list[float]) -> None:
        super().__init__()
        self.schedule = schedule
        self.seen: list[tuple[int, bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.schedule[len(self.seen)])
        self.seen.append((x.shape[0], self.training, torch.is_grad_enabled()))
        return x


def test_forward_seconds_is_the_median_without_the_warmup():
    net = Sleeper([0.5, 0.02, 0.15, 0.07])  # a slow first call, then 20, 150, 70 ms
    got = latency.forward_seconds(net, torch.zeros(2, 1), warmup=1, repeats=3)
    assert 0.07 <= got < 0.15  # the middle one: sleep overshoots, never undershoots


def test_latency_times_one_image_and_the_minibatch_in_eval_mode():
    calls = LATENCY_WARMUP + LATENCY_REPEATS
    net = Sleeper([0.0] * (2 * calls))
    x, y = batch(n=5)
    res = latency.compute(net, x, y, ["latency_b1", "latency"])
    assert [s for s, _, _ in net.seen] == [1] * calls + [5] * calls
    assert not any(training or grad for _, training, grad in net.seen)
    assert all(v.value >= 0 and v.reason == "" for v in res.values())
