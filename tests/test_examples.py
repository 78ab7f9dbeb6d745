"""examples/quickstart.ipynb runs top to bottom in a fresh kernel (slow tier: about a minute of
training on 2 cores), and is committed without outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


def test_the_notebook_is_committed_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.slow  # trains the demo config once: about a minute on 2 cores, more under load
def test_quickstart_notebook_runs_without_a_cell_error(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("sklearn")
    pytest.importorskip("pandas")
    monkeypatch.setenv("WSNAS_CACHE", str(tmp_path / "cache"))  # the kernel inherits the environment
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # a cell error raises CellExecutionError, naming the cell and its traceback
    assert (tmp_path / "runs" / "quickstart" / "demo-s0" / "summary.json").is_file()
    assert (tmp_path / "runs" / "quickstart" / "report" / "index.html").is_file()
    text = "".join(
        o.get("text", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "stream"
    )
    assert "s-KdT" in text and "index.html" in text
    # progress without widgets is a line per epoch, not text bars whose every redraw the notebook keeps
    assert "\r" not in text and len(text.splitlines()) < 80, f"{len(text.splitlines())} lines"
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the super-net vs GT figure was not drawn"
