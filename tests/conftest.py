"""Shared pytest fixtures."""

import pytest

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
