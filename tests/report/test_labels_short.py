"""Report labels (issue 27): a run named by hand keeps its name; long labels are cut only between keys."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from wsnas.core.runname import run_name
from wsnas.report.figures import _short
from wsnas.report.labels import cli_label, short_label


def _setting(*names: str, seed: int = 0) -> SimpleNamespace:
    return SimpleNamespace(runs=[SimpleNamespace(path=Path("runs") / n, seed=seed) for n in names])


def test_a_run_the_cli_named_is_called_by_that_name():
    assert cli_label(_setting("quick4")) == "quick4"  # `wsnas train ... name=quick4`
    assert cli_label(_setting("bn-batch-stats-s0")) == "bn-batch-stats"
    assert cli_label(_setting("sampler.name=fairnas-s0-1a2b3c4d")) == "sampler.name=fairnas"
    assert cli_label(_setting("quick4", "quick5")) == "quick4 + quick5"
    cut = "protocol.lr=0.025," + "x" * 80  # a label cut to fit a folder name: named by its values instead
    assert cli_label(_setting(run_name(cut, 0, "1a2b3c4d"))) is None


def test_long_labels_are_cut_at_a_key_boundary_never_mid_word():
    assert short_label("sampler.name=fairnas", 38) == "sampler.name=fairnas"
    label = "protocol.lr=0.05,protocol.epochs=100,sampler.name=fairnas,lowfi.channels=8"
    assert short_label(label, 50) == "…, sampler.name=fairnas, lowfi.channels=8"  # the varied keys end it
    assert short_label(label, 20) == "…, lowfi.channels=8"
    role = "Random NAS (ours): tuned baseline [mapping.bn_track_running_stats=false,protocol.lr=0.025]"
    assert short_label(role, 60) == "Random NAS (ours): tuned baseline […, protocol.lr=0.025]"
    one = "mapping.dynamic_channels=interpolate_with_a_long_value"
    short = short_label(one, 30)
    assert short.endswith("…") and one.startswith(short[:-1]) and short[-2] in "._="
    assert short_label("x" * 50, 20) == "x" * 50  # no boundary: kept whole rather than cut inside
    notes: list[str] = []
    assert _short(label, 20, notes) == "…, lowfi.channels=8 [1]" and notes == [label]
    assert _short("short", 30, notes) == "short" and notes == [label]
