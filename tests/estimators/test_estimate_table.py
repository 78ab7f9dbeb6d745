"""`wsnas estimate`'s plain-text table keeps its columns aligned when a name is longer than the
default column (`az_nas_complexity`)."""

from __future__ import annotations

from wsnas.cli.commands.estimate import print_summary


def row(v: float) -> dict:
    keys = ("kdt", "skdt", "spearman", "final_acc", "pbr", "ptop_5pct", "br_5pct", "wr_5pct", "ndcg")
    r = {k: v for k in keys}
    r.update(pairwise_acc=v, n_nan=0, seconds_per_arch=1.5, by_gt={"a": {"kdt": v, "spearman": v}})
    return r


def test_columns_line_up_with_a_long_estimator_name(capsys):
    summary = {
        "run_dir": "runs/x",
        "status": "finished",
        "archs": {"n": 3},
        "device": "cpu",
        "estimators": {"snip": row(0.5), "az_nas_complexity": row(0.25)},
        "gt_columns": [{"label": "a", "metric": "m"}, {"label": "b", "metric": "m"}],
    }
    print_summary(summary, as_json=False)
    lines = capsys.readouterr().out.splitlines()
    tables = [lines[1:4], lines[5:8]]  # header + two rows, twice
    for table in tables:
        assert len({len(line) for line in table}) == 1, table
        for line in table[1:]:  # each row's cells end where the header's titles end
            ends = [
                i for i, ch in enumerate(line) if ch != " " and (i + 1 == len(line) or line[i + 1] == " ")
            ]
            head = table[0]
            head_ends = [
                i for i, ch in enumerate(head) if ch != " " and (i + 1 == len(head) or head[i + 1] == " ")
            ]
            assert set(ends[1:]) <= set(head_ends), (line, head)
