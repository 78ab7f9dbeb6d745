"""Shared pytest fixtures."""

import pytest


def pytest_configure(config):
    """Ground-truth tables imported by the tests go to a cache of this session's own ($WSNAS_CACHE),
    never the user's ~/.cache/wsnas: a test's small table must not meet a bigger one that another run
    left under the same (space, metric, schedule), which the importer rightly refuses to shrink."""
    import os
    import tempfile

    os.environ["WSNAS_CACHE"] = tempfile.mkdtemp(prefix="wsnas-test-cache-")


# ---- CIFAR-10 real data (wsnas.data) ---------------------------------------------------------


def _shared_data_dir():
    """../shared/data beside the checkout, or $WSNAS_SHARED_DATA; None when absent."""
    import os
    from pathlib import Path

    env = os.environ.get("WSNAS_SHARED_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def cifar10_root():
    """A data.root holding cifar-10-batches-py/ made from the real JPEG copy of CIFAR-10.

    make_python_batches.py takes 10-30 s, so its output is cached under the system temp
    dir (or $WSNAS_TEST_CACHE), keyed by the source files, and made at most once per
    session; it is written to a temp sibling and renamed, so a crash leaves no half copy.
    """
    import os
    import shutil
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    shared = _shared_data_dir()
    if shared is None:
        pytest.skip("real data absent: ../shared/data beside the checkout (or $WSNAS_SHARED_DATA)")
    script = shared / "cifar10" / "make_python_batches.py"
    npz = shared / "cifar10" / "cifar10_jpeg.npz"
    if not (script.is_file() and npz.is_file()):
        pytest.skip(f"real data absent: {script.parent} lacks make_python_batches.py or the npz")
    pytest.importorskip("PIL", reason="make_python_batches.py needs Pillow")
    key = "-".join(str(v) for p in (script, npz) for v in (p.stat().st_size, p.stat().st_mtime_ns))
    cache = Path(os.environ.get("WSNAS_TEST_CACHE") or Path(tempfile.gettempdir()) / "wsnas-test")
    root = cache / f"cifar10-{key}"
    if (root / "cifar-10-batches-py" / "batches.meta").is_file():
        return root
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=cache, prefix=".cifar10-"))
    try:
        subprocess.run([sys.executable, str(script), str(work)], check=True, stdout=subprocess.DEVNULL)
        try:
            os.rename(work, root)
        except OSError:
            if not root.is_dir():  # else a parallel session finished first
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return root


# ---- ../shared/data for ground-truth tests (wsnas.groundtruth) --------------------------------------


@pytest.fixture(scope="session")
def shared_data():
    """The real data folder (../shared/data beside the checkout, or $WSNAS_SHARED_DATA).

    Skips the test when it is absent (a user's machine); CI has it.
    """
    path = _shared_data_dir()
    if path is None:
        pytest.skip("real data absent: ../shared/data beside the checkout (or $WSNAS_SHARED_DATA)")
    return path


# ---- exact CPU goldens, per CPU numerics (tests/cpu_goldens.py) -------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so a fixture's teardown knows how the test went."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def pytest_terminal_summary(terminalreporter):
    """Name this machine's CPU numerics in every log (-q included), so its goldens can be recorded."""
    from cpu_goldens import describe, fingerprint, recorded

    fp = fingerprint()
    terminalreporter.write_line(
        f"cpu numerics: fingerprint {fp} ({describe()}); goldens recorded for it: {recorded(fp)}"
    )


def pytest_collection_modifyitems(config, items):
    """Mark every test that uses cpu_golden, so `-m cpu_golden` selects them (for recording)."""
    for item in items:
        if "cpu_golden" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cpu_golden)


@pytest.fixture
def cpu_golden(request):
    """Exact values of a seeded CPU run, checked against this CPU's record (see cpu_goldens.py)."""
    from cpu_goldens import CpuGolden

    golden = CpuGolden(request.node.nodeid)
    yield golden
    call = getattr(request.node, "rep_call", None)
    if golden.values and not golden.verified and call is not None and call.passed:
        pytest.fail(f"{request.node.nodeid} collected CPU goldens but never called verify()")
