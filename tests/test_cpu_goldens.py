"""The per-CPU golden helper (tests/cpu_goldens.py): check, fall back, skip, record."""

from __future__ import annotations

import json

import pytest

import cpu_goldens
from cpu_goldens import CpuGolden


@pytest.fixture
def goldens(tmp_path, monkeypatch):
    path = tmp_path / "cpu_goldens.json"
    doc = {
        "platforms": [
            {"fingerprint": None, "label": "old", "values": {"t/acc": [1.0, 2.0], "t/chosen": {"a": "x"}}},
            {"fingerprint": "mine", "label": "this", "values": {"t/acc": [1.5, 2.0], "t/chosen": {"a": "y"}}},
        ]
    }
    path.write_text(json.dumps(doc))
    monkeypatch.setattr(cpu_goldens, "GOLDENS", path)
    monkeypatch.delenv(cpu_goldens.RECORD_ENV, raising=False)
    return path


def _golden(fp, monkeypatch, acc, chosen):
    monkeypatch.setattr(cpu_goldens, "fingerprint", lambda: fp)
    g = CpuGolden("t")
    g.expect("acc", acc, abs=1e-6)
    g.expect("chosen", chosen)
    return g


def test_a_recorded_platform_checks_its_own_values(goldens, monkeypatch):
    _golden("mine", monkeypatch, (1.5 + 1e-9, 2.0), {"a": "y"}).verify()
    with pytest.raises(AssertionError, match="this CPU's golden"):
        _golden("mine", monkeypatch, [1.0, 2.0], {"a": "x"}).verify()  # another platform's values
    with pytest.raises(AssertionError, match="t/chosen"):
        _golden("mine", monkeypatch, [1.5, 2.0], {"a": "x"}).verify()


def test_an_unknown_platform_passes_on_a_recorded_platforms_values_else_skips(goldens, monkeypatch):
    _golden("new", monkeypatch, [1.0, 2.0], {"a": "x"}).verify()
    _golden("new", monkeypatch, [1.5, 2.0], {"a": "y"}).verify()
    with pytest.raises(pytest.skip.Exception, match=r"fingerprint new.*\"t/acc\": \[1.0, 2.0\]"):
        _golden("new", monkeypatch, [1.0, 2.0], {"a": "y"}).verify()  # a mix of two platforms


def test_record_mode_writes_this_platforms_values(goldens, monkeypatch):
    monkeypatch.setenv(cpu_goldens.RECORD_ENV, "1")
    _golden("new", monkeypatch, [3.0, 4.0], {"a": "z"}).verify()
    doc = json.loads(goldens.read_text())
    assert doc["platforms"][2]["fingerprint"] == "new"
    assert doc["platforms"][2]["values"] == {"t/acc": [3.0, 4.0], "t/chosen": {"a": "z"}}
    assert not list(goldens.parent.glob("*.tmp"))


def test_the_fingerprint_is_stable_and_leaves_torch_as_it_was():
    import torch

    threads, state = torch.get_num_threads(), torch.get_rng_state()
    cpu_goldens.fingerprint.cache_clear()
    first = cpu_goldens.fingerprint()
    cpu_goldens.fingerprint.cache_clear()
    assert cpu_goldens.fingerprint() == first and len(first) == 16
    assert torch.get_num_threads() == threads and torch.equal(torch.get_rng_state(), state)


def test_count_of_gives_the_whole_count_behind_a_percentage():
    assert cpu_goldens.count_of(100 * 159 / 599, 599) == 159
    with pytest.raises(AssertionError, match="not a whole count"):
        cpu_goldens.count_of(50.5, 10)
