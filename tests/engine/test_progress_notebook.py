"""Progress in a Jupyter kernel without ipywidgets: a line per epoch and per evaluation, no text bars
(whose every redraw a saved notebook keeps: issue 35)."""

from __future__ import annotations

import io
import sys
import types

import pytest

import wsnas
from wsnas.engine.progress import ProgressHook


@pytest.fixture
def kernel_without_widgets(monkeypatch):
    """This process as a Jupyter kernel (as `in_notebook` sees one) where ipywidgets is not installed."""
    shell = types.SimpleNamespace(config={"IPKernelApp": {}})
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # `import ipywidgets` raises ImportError


def test_the_choice_lines_not_bars(kernel_without_widgets):
    hook = ProgressHook()
    assert hook.lines is True and hook.bars is False
    assert ProgressHook(io.StringIO()).lines is False  # a stream of its own is not the notebook's


def test_a_run_prints_one_line_per_epoch_and_evaluation(kernel_without_widgets, tmp_path, capsys):
    pytest.importorskip("sklearn")
    cfg = wsnas.load_config(
        "demo",
        {
            "protocol.epochs": 2,
            "eval.epochs": [1],
            "lowfi.channels": 4,
            "eval.pool_size": 12,
            "runtime.threads": 1,
            "out_dir": str(tmp_path),
            "name": "nb",
        },
    )
    wsnas.train(cfg, progress=True)
    text = capsys.readouterr().err  # the kernel's stderr
    lines = text.splitlines()
    assert "\r" not in text  # nothing redrawn: what a saved notebook holds is what it shows
    assert lines[0].startswith("wsnas train: ")
    assert [ln.split(":")[0] for ln in lines[1:]] == ["epoch 1/2"] * 2 + ["epoch 2/2"] * 2
    assert "loss " in lines[1] and "(run ETA ~" in lines[1] and "s-KdT" in lines[2] and "s-KdT" in lines[4]
