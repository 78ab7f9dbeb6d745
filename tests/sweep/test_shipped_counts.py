"""The shipped full-size studies, counted by the sweep planner (each stage choosing its first value).

Docs and spec comments quote these counts; the device check's projection uses the same expansion.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from wsnas.config.shipped import resolve_sweep
from wsnas.sweep import load_spec

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _projection import study_stages  # noqa: E402


@pytest.mark.parametrize(
    "name, stages",
    [
        ("nb201", [6, 3, 12, 6, 3, 57]),  # lr at 400 epochs, epochs at lr 0.025 (stage_fix); cell-drop,
        # landmark and few-shot rows
        ("nb101", [6, 3, 9, 6, 3, 51]),  # + the landmark row
        ("darts_nds", [6, 3, 9, 6, 6, 45]),  # + the landmark row
    ],
)
def test_run_counts(name, stages):
    got = [s["runs"] for s in study_stages(resolve_sweep(name), lambda cfg: 1.0, "first")]
    assert got == stages
    total = sum(stages)
    assert f"= {total}" in resolve_sweep(name).read_text()  # the spec's comment states it


def test_nb201_spec_follows_the_published_study():
    spec, _ = load_spec("nb201")
    assert spec.stage_fix["protocol.lr"] == {"protocol.epochs": 400}
    assert spec.stage_fix["protocol.epochs"] == {"protocol.lr": 0.025}
    rows = spec.factors["mapping.dropout_path"]
    assert 0.2 in rows and {"mapping.dropout_path": 0.2, "mapping.dropout_path_at": "cell"} in rows
