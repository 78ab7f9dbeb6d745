"""Bad inputs to `wsnas estimate` (issue 35): --batch 0 is refused, not run with 64; a refused
command (--batch larger than the training split) leaves no run dir; --archs N beyond the table
warns about --archs, the option the user typed."""

from __future__ import annotations

import warnings

import pytest

from wsnas.api import estimate
from wsnas.cli.main import main
from wsnas.config import load_config
from wsnas.core.errors import ConfigError
from wsnas.estimators.plan import EstimateOptions, plan_estimate

pytest.importorskip("sklearn")  # the digits data set

MINI = ["space.name=nb201_mini", "data.name=digits", "eval.pool_size=4", "runtime.device=cpu",
        "runtime.threads=1"]  # fmt: skip


def test_batch_0_is_refused_not_run_with_64(tmp_path, capsys):
    args = ["estimate", "--estimators", "synflow", *MINI, f"out_dir={tmp_path}", "-q"]
    assert main([*args, "--batch", "0"]) == 2
    assert "--batch: got 0" in capsys.readouterr().err
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError, match="--batch: got 0"):
        estimate(load_config(None, [*MINI, f"out_dir={tmp_path}"]), ["synflow"], batch=0)


def test_a_batch_beyond_the_training_split_leaves_no_run_dir(tmp_path, capsys):
    args = ["estimate", "--estimators", "synflow", *MINI, f"out_dir={tmp_path}", "name=big", "-q"]
    assert main([*args, "--batch", "1000000000"]) == 2
    assert "--batch 1000000000: the training split holds only" in capsys.readouterr().err
    assert not (tmp_path / "big").exists()
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_archs_beyond_the_table_warns_about_archs(tmp_path, capsys):
    cfg = load_config(None, [*MINI, f"out_dir={tmp_path}"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plan = plan_estimate(cfg, EstimateOptions(["params"], archs="500"))
    text = " ".join(str(w.message) for w in caught)
    assert "--archs 500 is larger than the ground truth" in text and "eval.pool_size" not in text
    assert len(plan.pool) == 125
    args = ["estimate", "--estimators", "params", "--archs", "500", *MINI, f"out_dir={tmp_path}", "-q"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "--archs 500" in err and "eval.pool_size" not in err
