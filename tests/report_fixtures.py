"""Run dirs written by hand for report tests (the layout wsnas.engine.rundir writes), and
checks of a report's files; shared by tests in several folders."""

from __future__ import annotations

import csv
import json
import os
from html.parser import HTMLParser
from pathlib import Path

import numpy as np

from wsnas.config import dump_config, load_config


def write_run(
    root: Path,
    name: str,
    overrides: list[str],
    seed: int,
    final_acc: float,
    skdt: float = 0.5,
    status: str = "finished",
    space: str = "nb201",
) -> Path:
    """A run dir as wsnas.engine.rundir lays it out, with the given final metrics."""
    cfg = load_config(
        None,
        [
            f"space.name={space}",
            *overrides,
            f"seed={seed}",
            f"name={name}",
            f"out_dir={root}",
            "eval.epochs=[1]",
            "protocol.epochs=2",
        ],
    )
    run = root / name
    (run / "evals").mkdir(parents=True)
    dump_config(cfg, run / "config.yaml")
    final = {
        "supernet_acc_mean": 40.0 + final_acc / 10,
        "kdt": skdt - 0.1,
        "skdt": skdt,
        "spearman": skdt + 0.1,
        "final_acc": final_acc,
        "pbr": final_acc / 100,
    }
    summary = {"status": status, "final": final if status == "finished" else {}}
    (run / "summary.json").write_text(json.dumps(summary))
    log = [
        {"type": "epoch", "epoch": 1},
        {"type": "eval", "epoch": 1, "skdt": skdt / 2},
        {"type": "epoch", "epoch": 2},
        {"type": "eval", "epoch": 2, "skdt": skdt},
    ]
    (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
    rng = np.random.default_rng(seed)
    with (run / "evals" / "epoch_0002.csv").open("w") as f:
        w = csv.writer(f)
        w.writerow(["arch", "canonical", "index", "supernet_acc", "gt_acc", "gt_rank"])
        for i, acc in enumerate(rng.uniform(30, 50, size=20)):
            w.writerow([f"a{i}", f"a{i}", i, f"{acc:.3f}", "90.0", i])
    return run


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open()))


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.srcs.append(dict(attrs)["src"])


def assert_images_exist(index: Path, expected: int) -> None:
    """Python-only: every <img src> is a relative path to an existing, non-empty PNG."""
    parser = _Images()
    parser.feed(index.read_text())
    assert len(parser.srcs) == expected
    for src in parser.srcs:
        assert not os.path.isabs(src) and "://" not in src, src
        path = index.parent / src
        assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", src
