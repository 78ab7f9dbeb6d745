"""The report read at a glance (issue 35): what was run, every run counted, each scope written once,
doc links, empty sections that say why, whole figure labels, the two metric definitions explained.

Each check reads the index.html (and tables) that `wsnas report` wrote, parsed as a page
(tests/report/page.py): run dirs written by hand in the layout the engine writes
(tests/report_fixtures.py), and a real `wsnas estimate` on the mini space.
"""

from __future__ import annotations

import csv
import json
import os
import re
import warnings
from pathlib import Path

import pytest
from drawn_text import drawn_figures  # noqa: F401  (a fixture)
from page import Page

from report_fixtures import read_csv, write_run
from wsnas.cli.main import main
from wsnas.config import dump_config, load_config
from wsnas.config.shipped import shipped
from wsnas.report.runas import DEFAULTS, SUPERNET_PRESETS, run_as


def report(tmp_path: Path, *dirs: Path) -> Page:
    out = tmp_path / "report"
    assert main(["report", *map(str, dirs), "--out", str(out)]) == 0
    return Page(out / "index.html")


def from_shipped(run: Path, name: str, overrides: list[str]) -> None:
    """Make RUN's config.yaml what `wsnas train NAME OVERRIDES` resolves (name, seed, out_dir kept)."""
    old = load_config(run / "config.yaml")
    keep = [f"seed={old.seed}", f"name={old.name}", f"out_dir={old.out_dir}", "runtime.threads=1"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nb201-quick's eval.epochs beyond a shortened protocol
        dump_config(load_config(name, [*overrides, *keep]), run / "config.yaml")


# ---- what was run ------------------------------------------------------------------------------


def test_setting_labels_say_the_shipped_config_and_what_departs_from_it(tmp_path):
    root = tmp_path / "runs"
    short = ["protocol.epochs=10", "eval.epochs=[5]"]
    for seed in (0, 1):  # `wsnas train nb201-quick protocol.epochs=10 eval.epochs=[5]`, unnamed
        run = write_run(root, f"nb201-random_nas-s{seed}-aaaaaaaaaaaa", [], seed, 90.0 + seed)
        from_shipped(run, "nb201-quick", short)
        run = write_run(root, f"nb201-fairnas-s{seed}-bbbbbbbbbbbb", [], seed, 91.0)
        from_shipped(run, "nb201-quick", [*short, "sampler.name=fairnas"])
    page = report(tmp_path, root)

    final = page.section("Final searched model")
    ran = {row[0]: row[1] for row in final.body}
    assert ran == {
        "nb201-random_nas": "nb201-quick, 10 epochs, eval.epochs=[5]",
        "nb201-fairnas": "nb201-quick, 10 epochs, sampler.name=fairnas, eval.epochs=[5]",  # field order
    }
    assert [c.text for c in final.head[0]][:2] == ["Setting", "Run as"]
    # the scope's header says what all its settings ran, the page's header too
    scope = final.head[0][2].text
    assert scope == "NASBench-201 (cifar10) / run as: nb201-quick, 10 epochs, eval.epochs=[5]"
    assert "NASBench-201 (cifar10): run as nb201-quick, 10 epochs, eval.epochs=[5];" in page.text
    settings = {r["setting"]: r["run_as"] for r in read_csv(tmp_path / "report" / "tables" / "settings.csv")}
    assert settings["nb201-fairnas"] == "nb201-quick, 10 epochs, sampler.name=fairnas, eval.epochs=[5]"
    final_csv = read_csv(tmp_path / "report" / "tables" / "table_final.csv")
    assert [r["setting"] for r in final_csv] == ["nb201-random_nas", "nb201-fairnas"]  # labels as before
    # the run names on disk are what the CLI wrote: untouched
    assert sorted(p.name for p in root.iterdir())[0] == "nb201-fairnas-s0-bbbbbbbbbbbb"


def test_run_as_compares_only_what_defines_a_setting():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quick = load_config("nb201-quick", ["seed=7", "runtime.threads=1", "bench.source=/x.csv", "name=n"])
        assert run_as(quick).text() == "nb201-quick"  # where and how it ran is no departure
        assert run_as(load_config("nb201", [])).text() == "nb201"
        assert run_as(load_config("demo", ["mapping.bn_track_running_stats=true"])).text() == (
            "demo, mapping.bn_track_running_stats=true"
        )
        free = load_config(None, ["space.name=nb101", "protocol.epochs=1"])  # no config file
        assert run_as(free).text() == f"{DEFAULTS}, 1 epoch"
    assert all(name in shipped() for name in SUPERNET_PRESETS)


# ---- every run counted -------------------------------------------------------------------------

MINI = ["eval.pool_size=8", "runtime.device=cpu", "runtime.threads=1"]


def estimate(tmp_path: Path, monkeypatch, estimators: str = "synflow,jacob_cov,params,flops") -> Path:
    """A real `wsnas estimate demo` on 8 archs of the mini space; its run dir."""
    pytest.importorskip("sklearn")
    monkeypatch.chdir(tmp_path)  # `demo` is the shipped preset, not a folder here
    args = ["estimate", "demo", "--estimators", estimators, "--batch", "16", "--channels", "4"]
    assert main([*args, "--cells", "1", "-q", *MINI, f"out_dir={tmp_path / 'est'}"]) == 0
    (run,) = (tmp_path / "est").iterdir()
    return run


def supernets_on(est: Path, root: Path) -> None:
    """Two seeds of the demo's setting, scored (by hand) on the estimate run's GT and pool."""
    summary = json.loads((est / "summary.json").read_text())
    with (est / "scores.csv").open(newline="") as f:
        archs = [r["arch"] for r in csv.DictReader(f)]
    for seed in (0, 1):
        run = write_run(root, f"bn-batch-stats-s{seed}", [], seed, 98.0, space="nb201_mini")
        from_shipped(run, "demo", MINI)
        s = json.loads((run / "summary.json").read_text())
        s["identity"] = {"version": 1, "gt": summary["gt"], "numerics": "fp32", "world_size": 1}
        s["timing"] = {"seconds": 40.0}
        (run / "summary.json").write_text(json.dumps(s))
        with (run / "evals" / "epoch_0002.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["arch", "canonical", "index", "supernet_acc", "gt_acc", "gt_rank"])
            w.writerows([a, a, i, 50 + i + seed, 90.0, i] for i, a in enumerate(archs))


def test_header_counts_estimator_runs_and_their_table_says_what_was_run(tmp_path, monkeypatch):
    est = estimate(tmp_path, monkeypatch)
    supernets_on(est, tmp_path / "runs")
    page = report(tmp_path, tmp_path / "runs", tmp_path / "est")
    assert "2 super-net runs in 1 setting and 1 estimator run (4 estimators scored), read from" in page.text
    table = page.section("Super-nets and estimators")
    rows = {r[1].split(" [")[0]: r for r in table.body}
    assert [c.text for c in table.head[0]][:3] == ["kind", "setting / estimator", "run as"]
    assert rows["bn-batch-stats"][2] == "demo, eval.pool_size=8"
    assert rows["synflow"][2] == "4 channels, 1 cell per stage, batch 16"


def test_a_report_of_estimator_runs_alone_counts_them_and_says_why_the_rest_is_empty(tmp_path, monkeypatch):
    estimate(tmp_path, monkeypatch, "params,flops")
    page = report(tmp_path, tmp_path / "est")
    assert "0 super-net runs in 0 settings and 1 estimator run (2 estimators scored)" in page.text
    assert page.section("Factors").empty == "No super-net runs were read, so there is no factor to compare."
    for title in ("Final searched model", "All settings", "All runs"):
        section = page.section(title)
        assert section.head == [] and section.empty.startswith("No super-net runs were read")


# ---- one header row per scope --------------------------------------------------------------------


def test_each_scope_is_written_once_over_its_columns(tmp_path):
    root = tmp_path / "runs"
    for space in ("nb201", "nb101"):
        for seed in (0, 1):
            write_run(root, f"base-s{seed}-{space}", [], seed, 90.0 + seed, space=space)
            write_run(root, f"fair-s{seed}-{space}", ["sampler.name=fairnas"], seed, 91.0, space=space)
    page = report(tmp_path, root)
    titles = ["NASBench-101 (cifar10)", "NASBench-201 (cifar10)"]
    for name, lead in (("Factors", 2), ("Final searched model", 2)):
        table = page.section(name)
        top, sub = table.head
        leads = ["Factor", "Value"] if name == "Factors" else ["Setting", "Run as"]
        assert [c.text for c in top[:lead]] == leads
        assert all(c.attrs.get("rowspan") == "2" for c in top[:lead])
        scopes = top[lead:]
        assert [c.text.split(" / ")[0] for c in scopes] == titles
        assert sum(int(c.attrs["colspan"]) for c in scopes) == len(sub) == len(table.body[0]) - lead
        assert not any(t in c.text for t in titles for c in sub)  # the metric names alone
    factors = page.section("Factors")
    assert [c.text for c in factors.head[1][:8]] == [
        "SN acc",
        "KdT",
        "s-KdT [paper]",
        "s-KdT [authors, seed-avg]",
        "final acc (top-3) [paper]",
        "final acc (top-5) [authors, seed-avg]",
        "P>R [paper]",
        "P>R [authors, seed-avg]",
    ]
    # Markdown and CSV still name each column whole: a column read alone says its scope
    md = (tmp_path / "report" / "tables" / "table_factors.md").read_text()
    assert "| NASBench-101 (cifar10) SN acc | NASBench-101 (cifar10) KdT |" in md


# ---- doc references are links ----------------------------------------------------------------------


def test_every_doc_reference_is_a_link_to_the_page(tmp_path):
    docs = Path(__file__).resolve().parents[2] / "docs"
    if not (docs / "metrics.md").is_file():
        pytest.skip("no docs/ beside the package (an installed wheel): references stay text")
    root = tmp_path / "runs"
    for seed in (0, 1):
        write_run(root, f"base-s{seed}", [], seed, 90.0 + seed)
        write_run(root, f"fair-s{seed}", ["sampler.name=fairnas"], seed, 91.0)
    page = report(tmp_path, root)
    refs = re.findall(r"docs/[\w-]+\.md(?:#[\w-]+)?", page.text)
    linked = {text: href for href, text in page.links if text.startswith("docs/")}
    assert refs and set(refs) == set(linked), "a docs/ reference the reader cannot click"
    for text, href in linked.items():
        target = (tmp_path / "report" / href).resolve()
        assert not os.path.isabs(href) and target.with_name(target.name.split("#")[0]).is_file(), href
        anchor = href.partition("#")[2]
        if anchor:  # the section exists: a heading of the page that makes that anchor
            headings = re.findall(r"^#+ (.+)$", (docs / text.split("#")[0][5:]).read_text(), re.M)
            assert anchor in {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


# ---- empty sections say why ------------------------------------------------------------------------


def test_an_empty_section_says_why_instead_of_a_bare_header(tmp_path):
    root = tmp_path / "runs"
    for seed in (0, 1):
        write_run(root, f"only-s{seed}", [], seed, 90.0 + seed)
    page = report(tmp_path, root)
    factors = page.section("Factors")
    assert factors.head == [] and factors.body == []
    assert factors.empty == (
        "No factor varies in these runs: each space holds one setting (runs that differ only in their "
        "seed), so there is no other value to compare it with."
    )
    md = (tmp_path / "report" / "tables" / "table_factors.md").read_text()
    assert "| Factor |" not in md and md.rstrip().endswith("no other value to compare it with.")

    for seed in (0, 1):  # two settings that differ in two values at once: still no factor
        write_run(root, f"both-s{seed}", ["sampler.name=fairnas", "protocol.lr=0.1"], seed, 91.0)
    page = report(tmp_path, root)
    assert page.section("Factors").empty.startswith(
        "No factor varies in these runs: no two settings of a space differ in exactly one config value"
    )

    diverged = tmp_path / "diverged"
    run = write_run(diverged, "x-s0", [], 0, 0.0, status="diverged")
    (run / "log.jsonl").write_text(json.dumps({"type": "epoch", "epoch": 1}) + "\n")  # before any evaluation
    page = report(tmp_path, diverged)
    why = "No figures: no super-net run finished (diverged runs have no final evaluation to plot)."
    assert ("empty", why) in page.paragraphs


# ---- the two metric definitions, explained where they first appear --------------------------------


def test_the_two_definitions_are_explained_once_in_one_sentence_where_they_first_appear(tmp_path):
    root = tmp_path / "runs"
    for seed in (0, 1):
        write_run(root, f"base-s{seed}", [], seed, 90.0 + seed)
        write_run(root, f"fair-s{seed}", ["sampler.name=fairnas"], seed, 91.0)
    page = report(tmp_path, root)
    html = (tmp_path / "report" / "index.html").read_text()
    defs = [text for cls, text in page.paragraphs if cls == "defs"]
    assert len(defs) == 1
    sentence = defs[0]
    assert sentence.startswith("Where a metric appears twice, [paper] is the paper's text")
    assert "[authors, seed-avg]" in sentence and "top 10" in sentence and sentence.endswith(".")
    assert len(re.findall(r"[.!?](\s|$)", sentence)) == 1  # one sentence
    # it stands right above the first table that shows the tags, and no table repeats it
    first_tag = html.index("[authors, seed-avg]</th>")
    explained = html.index("<p class='defs'>")
    assert explained < first_tag and html.count("<table>", explained, first_tag) == 1
    assert html.count("is the authors' analysis scripts behind the published tables") == 0
    md = (tmp_path / "report" / "tables" / "table_factors.md").read_text()
    assert "is the authors' analysis scripts behind the published tables" in md  # a file read alone


# ---- figure labels are whole -----------------------------------------------------------------------


def test_figure_labels_are_inside_the_image_and_never_on_top_of_each_other(
    tmp_path,
    monkeypatch,
    drawn_figures,  # noqa: F811
):
    est = estimate(tmp_path, monkeypatch)
    supernets_on(est, tmp_path / "runs")
    report(tmp_path, tmp_path / "runs", tmp_path / "est")
    names = [d.name for d in drawn_figures]
    assert any(n.startswith("fig_estimators_cost_") for n in names), names
    for d in drawn_figures:
        assert d.clipped() == [], f"{d.name}: cut off at the image's edge"
        assert d.overlapping() == [], f"{d.name}: labels on top of each other"
    cost = next(d for d in drawn_figures if d.name.startswith("fig_estimators_cost_"))
    labels = {t for t, _, _, ann in cost.texts if ann}
    assert "jacob_cov" in labels and "bn-batch-stats" in labels
    assert {"flops, params"} <= labels or {"flops", "params"} <= labels
