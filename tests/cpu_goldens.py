"""Exact results of seeded CPU training, recorded per CPU numerics (tests/cpu_goldens.json).

A seeded CPU run is bit-reproducible on one machine, but the float32 kernels PyTorch picks
(oneDNN and MKL paths for AVX2, AVX-512, AMX...) round differently, so the exact accuracy a
golden test pins on one CPU is not the answer on another: the same commit gave 89.398 % on the
machine that recorded the demo's goldens and 89.206 % on an AVX-512/AMX Xeon.

So each platform's goldens are filed under a *fingerprint*: the bits of a tiny fixed training
step (convolutions, BatchNorm, linear, cross-entropy, backward) on one thread, plus the torch
version. A test hands its values to `CpuGolden.expect`, then calls `verify`:

- on a recorded platform, each value must equal that platform's record (to `abs`);
- on an unrecorded one, the values pass when they equal every key of some recorded platform
  (two fingerprints may share numerics), else the test skips and prints them with the
  fingerprint, so they can be recorded: ``WSNAS_RECORD_GOLDENS=1 pytest -m cpu_golden``
  writes this machine's values instead of checking them.

What stays machine-independent in those tests (ties, derived metrics, resume equal to an
uninterrupted run, values within a seed spread) is still asserted directly in the tests.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

import pytest

GOLDENS = Path(__file__).with_name("cpu_goldens.json")
RECORD_ENV = "WSNAS_RECORD_GOLDENS"


@functools.cache
def fingerprint() -> str:
    """Hash of a fixed float32 training step's bits on one thread (and the torch version)."""
    import torch
    import torch.nn.functional as F

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        g = torch.Generator().manual_seed(0)
        bits = []
        for c, hw in ((4, 8), (16, 8), (32, 16)):
            x = torch.randn(16, c, hw, hw, generator=g)
            w3 = (torch.randn(c, c, 3, 3, generator=g) * 0.2).requires_grad_()
            w1 = (torch.randn(c, c, 1, 1, generator=g) * 0.2).requires_grad_()
            fc = (torch.randn(10, c, generator=g) * 0.2).requires_grad_()
            y = torch.randint(0, 10, (16,), generator=g)
            h = F.conv2d(F.relu(x), w3, padding=1)
            h = F.batch_norm(h, None, None, training=True)
            h = F.conv2d(F.relu(h), w1) + F.avg_pool2d(h, 3, 1, 1)
            h = F.batch_norm(h, None, None, training=True).mean((2, 3))
            loss = F.cross_entropy(F.linear(h, fc), y)
            loss.backward()
            for t in (loss.detach(), w3.grad, w1.grad, fc.grad):
                assert t is not None
                bits.append(t.contiguous().numpy().tobytes())
        digest = hashlib.sha256(b"".join(bits) + torch.__version__.encode()).hexdigest()
    finally:
        torch.set_num_threads(threads)
    return digest[:16]


def describe() -> str:
    """The CPU model, PyTorch's CPU capability and version: a label for people, not the key."""
    import torch

    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {torch.backends.cpu.get_cpu_capability()}, torch {torch.__version__}"


def count_of(percent: float, total: int) -> int:
    """The whole number of right answers behind an accuracy of PERCENT over TOTAL items (asserted
    whole): the exact, readable thing to pin, where the percentage carries float noise."""
    count = percent * total / 100
    assert count == pytest.approx(round(count), abs=1e-6), f"{percent} % of {total} is not a whole count"
    return round(count)


def _load() -> list[dict[str, Any]]:
    return json.loads(GOLDENS.read_text())["platforms"]


def _same(obtained: Any, expected: Any, tol: float) -> bool:
    if isinstance(obtained, (list, tuple)) and isinstance(expected, (list, tuple)):
        return len(obtained) == len(expected) and all(
            _same(a, b, tol) for a, b in zip(obtained, expected, strict=True)
        )
    if isinstance(obtained, dict) and isinstance(expected, dict):
        same_keys = obtained.keys() == expected.keys()
        return same_keys and all(_same(obtained[k], expected[k], tol) for k in obtained)
    numbers = (int, float)
    if isinstance(obtained, numbers) and isinstance(expected, numbers) and not isinstance(obtained, bool):
        return obtained == pytest.approx(expected, abs=tol)
    return obtained == expected


class CpuGolden:
    """The golden values one test checks; `verify` compares them with this platform's record."""

    def __init__(self, test: str) -> None:
        self.test = test
        self.values: dict[str, tuple[Any, float]] = {}
        self.verified = False

    def expect(self, key: str, obtained: Any, abs: float = 1e-9) -> None:  # noqa: A002 - pytest's name
        """Collect one value; lists, tuples and dicts of numbers are compared item by item."""
        if isinstance(obtained, tuple):
            obtained = list(obtained)
        self.values[f"{self.test}/{key}"] = (obtained, abs)

    def verify(self) -> None:
        self.verified = True
        fp, platforms = fingerprint(), _load()
        if os.environ.get(RECORD_ENV) == "1":
            _record(fp, {k: v for k, (v, _) in self.values.items()})
            return
        mine = next((p for p in platforms if p["fingerprint"] == fp), None)
        if mine is not None and all(k in mine["values"] for k in self.values):
            for key, (obtained, tol) in self.values.items():
                assert _same(obtained, mine["values"][key], tol), (
                    f"{key}: {obtained!r} != {mine['values'][key]!r} (this CPU's golden, fingerprint {fp})"
                )
            return
        for p in platforms:
            if all(k in p["values"] and _same(v, p["values"][k], t) for k, (v, t) in self.values.items()):
                return  # an unrecorded fingerprint with a recorded platform's numerics
        obtained = json.dumps({k: v for k, (v, _) in self.values.items()})
        pytest.skip(
            f"no CPU golden for this machine's numerics (fingerprint {fp}: {describe()}); "
            f"its values, none equal to a recorded platform's: {obtained}; "
            f"{RECORD_ENV}=1 records them in {GOLDENS.name}"
        )


def _record(fp: str, values: dict[str, Any]) -> None:
    """Merge this machine's values into the file (temp file, then rename)."""
    doc = json.loads(GOLDENS.read_text())
    mine = next((p for p in doc["platforms"] if p["fingerprint"] == fp), None)
    if mine is None:
        mine = {"fingerprint": fp, "label": describe(), "values": {}}
        doc["platforms"].append(mine)
    mine["values"].update(values)
    mine["values"] = dict(sorted(mine["values"].items()))
    tmp = GOLDENS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, GOLDENS)


def recorded(fp: str) -> bool:
    """Whether this fingerprint has a platform of its own in the file."""
    return any(p["fingerprint"] == fp for p in _load())
