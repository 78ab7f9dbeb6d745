"""A run killed before its first config.yaml (issue 28): the folder holds only the lock file.

`--resume` and `wsnas show` say that the run never started and that rerunning the command that
made it starts it, instead of "not a run dir"; a start-up still in progress is named as such.
"""

from __future__ import annotations

from wsnas.cli.main import main
from wsnas.core.dirlock import LOCK_NAME, DirLock


def _killed_at_startup(tmp_path):
    run = tmp_path / "runs" / "base-s0"
    run.mkdir(parents=True)
    (run / LOCK_NAME).write_text("12345\n")  # what a kill -9 between mkdir and config.yaml leaves
    return run


def test_resume_says_the_run_never_started(tmp_path, capsys):
    run = _killed_at_startup(tmp_path)
    assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "the run never started" in err and "rerun the same `wsnas train`" in err
    assert "not a run dir" not in err
    assert main(["standalone", "train", "--resume", str(run)]) == 2
    assert "the run never started" in capsys.readouterr().err


def test_show_says_the_run_never_started(tmp_path, capsys):
    run = _killed_at_startup(tmp_path)
    assert main(["show", str(run)]) == 2
    assert "the run never started" in capsys.readouterr().err


def test_a_start_up_in_progress_is_named(tmp_path, capsys):
    run = _killed_at_startup(tmp_path)
    with DirLock(run, "run dir"):  # another writer is starting it right now
        assert main(["train", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "is starting" in err and "has not written its config yet" in err
