"""A sequential stage whose winner is within noise of the runner-up says so (issue 27)."""

from __future__ import annotations

import json

from wsnas.sweep.noise import noise_text, sequential_notes, stage_noise


def _stage(*scores: tuple[object, float, float, int], chosen: object) -> dict:
    return {
        "factor": "protocol.lr",
        "chosen": chosen,
        "scores": [{"value": v, "mean": m, "std": s, "n": n} for v, m, s, n in scores],
    }


def test_overlapping_intervals_are_within_noise_and_the_line_says_so():
    rec = _stage((0.025, 0.30, 0.05, 3), (0.05, 0.33, 0.04, 3), (0.1, 0.10, 0.02, 3), chosen=0.05)
    noise = stage_noise(rec)
    assert noise["runner_up"] == 0.025 and noise["within_noise"] is True
    assert round(noise["gap"], 6) == 0.03
    text = noise_text(rec, "skdt")
    assert text == (
        "; within noise of 0.025: skdt 0.330 ± 0.040 (n=3) vs 0.025 0.300 ± 0.050 (n=3), "
        "the intervals mean ± std overlap"
    )


def test_a_clear_winner_says_nothing_and_one_seed_says_there_is_no_estimate():
    clear = _stage((0.025, 0.10, 0.01, 3), (0.05, 0.33, 0.04, 3), chosen=0.05)
    assert stage_noise(clear)["within_noise"] is False and noise_text(clear, "skdt") == ""
    one = _stage((0.025, 0.30, 0.0, 1), (0.05, 0.33, 0.0, 1), chosen=0.05)
    assert stage_noise(one)["within_noise"] is None
    assert noise_text(one, "skdt").startswith("; one seed per value, so no noise estimate")
    assert stage_noise(_stage((0.05, 0.3, 0.1, 3), chosen=0.05)) is None  # nothing to compare with


def test_the_report_notes_each_stage_within_noise(tmp_path):
    d = tmp_path / "mysweep"
    d.mkdir()
    rec = _stage((0.025, 0.30, 0.05, 3), (0.05, 0.33, 0.04, 3), chosen=0.05)
    (d / "sequential.json").write_text(json.dumps({"select": "skdt", "stages": [rec]}))
    notes = sequential_notes([d, tmp_path / "absent"])
    assert notes == ["mysweep: stage protocol.lr chose 0.05" + noise_text(rec, "skdt")]
