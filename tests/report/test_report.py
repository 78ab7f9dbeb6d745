"""`wsnas report`: grouping, aggregation over seeds, the paper's tables, figures, index.html.

Run dirs are written here by hand with known metrics (the layout wsnas.engine.rundir
writes), so every number in the tables can be checked exactly; the report of a real
sweep is checked in tests/sweep/test_sweep_run.py. index.html is also opened in headless
Chromium, which must load every image.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from scipy.stats import spearmanr

from report_fixtures import assert_images_exist, read_csv, write_run  # noqa: E402
from wsnas.cli.main import main
from wsnas.config import NOT_IDENTITY, RunConfig, StandaloneConfig
from wsnas.core.errors import WsnasError
from wsnas.report import RunRecord, load_runs, spearman_pairs, write_report
from wsnas.report.runs import flatten

# one-at-a-time around (random_nas, lr 0.025): final acc = 90 + effect + seed / 10
EFFECTS = {
    "base": ([], 0.0),
    "fair": (["sampler.name=fairnas"], 1.0),
    "lr05": (["protocol.lr=0.05"], -0.5),
    "lr1": (["protocol.lr=0.1"], -2.0),
}


@pytest.fixture
def study(tmp_path) -> Path:
    root = tmp_path / "sweep" / "runs"
    for label, (ov, effect) in EFFECTS.items():
        for seed in (0, 1, 2):
            write_run(
                root, f"{label}-s{seed}-0000", ov, seed, 90.0 + effect + seed / 10, skdt=0.5 + effect / 10
            )
    # a second space, fewer settings; and a diverged seed that must not enter the means
    for seed in (0, 1):  # named as a sweep of that space names them: the same labels
        write_run(root, f"base-s{seed}-1111", [], seed, 92.0 + seed, space="nb101")
        write_run(root, f"fair-s{seed}-1111", ["sampler.name=fairnas"], seed, 91.0, space="nb101")
    write_run(root, "fair-s2-1111", ["sampler.name=fairnas"], 2, 0.0, status="diverged", space="nb101")
    (tmp_path / "sweep" / "not-a-run").mkdir()
    (tmp_path / "sweep" / "not-a-run" / "config.yaml").write_text("seed: 1\n")
    return tmp_path / "sweep"


def test_tables_aggregate_over_seeds(study, tmp_path):
    rep = write_report([study], tmp_path / "rep")
    assert (rep.num_runs, rep.num_settings) == (12 + 5, 4 + 2)
    rows = {(r["factor"], r["value"]): r for r in read_csv(tmp_path / "rep" / "tables" / "table_factors.csv")}
    assert set(rows) == {
        ("sampler.name", "random_nas"),
        ("sampler.name", "fairnas"),
        ("protocol.lr", "0.025"),
        ("protocol.lr", "0.05"),
        ("protocol.lr", "0.1"),
    }
    fair = rows[("sampler.name", "fairnas")]
    assert float(fair["nb201_cifar10_final_acc_mean"]) == pytest.approx(91.1)
    assert float(fair["nb201_cifar10_final_acc_std"]) == pytest.approx(0.1)  # sample std of 91.0, 91.1, 91.2
    assert fair["nb201_cifar10_final_acc_n"] == "3"
    assert float(fair["nb101_cifar10_final_acc_mean"]) == pytest.approx(91.0)
    assert fair["nb101_cifar10_final_acc_n"] == "2"
    assert rows[("sampler.name", "random_nas")]["nb201_cifar10_reference"] == "True"
    assert rows[("protocol.lr", "0.025")]["nb201_cifar10_reference"] == "True"
    assert rows[("protocol.lr", "0.1")]["nb101_cifar10_final_acc_n"] == "0"  # not studied on nb101
    assert float(rows[("protocol.lr", "0.1")]["nb201_cifar10_skdt_mean"]) == pytest.approx(0.3)
    assert float(rows[("protocol.lr", "0.1")]["nb201_cifar10_kdt_mean"]) == pytest.approx(0.2)

    md = (tmp_path / "rep" / "tables" / "table_factors.md").read_text()
    assert (
        "| Factor | Value | NASBench-101 (cifar10) SN acc | NASBench-101 (cifar10) KdT | "
        "NASBench-101 (cifar10) s-KdT [paper] | NASBench-101 (cifar10) s-KdT [authors, seed-avg] | "
        "NASBench-101 (cifar10) final acc (top-3) [paper] | "
        "NASBench-101 (cifar10) final acc (top-5) [authors, seed-avg] |"
    ) in md
    # these hand-written runs record no benchmark size, so the authors' P>R (and with it the
    # seed-averaged columns) cannot be computed: shown as – (tests/report/test_report_definitions.py)
    assert (
        "| sampler.name | fairnas | 49.10 ± 0.00 | 0.400 ± 0.000 | 0.500 ± 0.000 | – | 91.00 ± 0.00 | – "
        "| 0.910 ± 0.000 | – | 49.11 ± 0.01 | 0.500 ± 0.000 | 0.600 ± 0.000 | – | 91.10 ± 0.10 | – "
        "| 0.911 ± 0.001 | – |"
    ) in md
    assert md.index("| protocol.lr |") < md.index("| sampler.name |")  # Table 1 order
    assert md.index("| sampler.name | random_nas") < md.index("| sampler.name | fairnas")  # paper's order
    assert "| protocol.lr | 0.025 (ref) |" in md

    final = {r["setting"]: r for r in read_csv(tmp_path / "rep" / "tables" / "table_final.csv")}
    assert list(final) == ["base", "fair", "lr05", "lr1"]  # the run names' labels, as the CLI printed them
    assert float(final["fair"]["nb101_cifar10_final_acc_mean"]) == pytest.approx(91.0)
    assert float(final["base"]["nb101_cifar10_final_acc_mean"]) == pytest.approx(92.5)
    assert float(final["base"]["nb201_cifar10_final_acc_mean"]) == pytest.approx(90.1)
    assert (
        "| NASBench-101 (cifar10), top-3 [paper] | NASBench-101 (cifar10), top-5 [authors, seed-avg] "
        "| NASBench-201 (cifar10), top-3 [paper] | NASBench-201 (cifar10), top-10 [authors, seed-avg] |"
        in (tmp_path / "rep" / "tables" / "table_final.md").read_text()
    )
    settings = {(r["space"], r["setting"]): r for r in read_csv(tmp_path / "rep" / "tables" / "settings.csv")}
    fair101 = settings[("nb101", "fair")]
    assert fair101["data"] == "cifar10" and fair101["top_k"] == "3"
    assert (fair101["runs"], fair101["finished"], fair101["diverged"]) == ("3", "2", "1")
    assert len(read_csv(tmp_path / "rep" / "tables" / "runs.csv")) == 17


def test_figures_and_index(study, tmp_path):
    rep = write_report([study], tmp_path / "rep")
    names = sorted(p.name for p in rep.figures)
    assert names == sorted(
        [
            "fig4_hist_nb101_cifar10.png",
            "fig4_hist_nb201_cifar10.png",
            "fig8_skdt_epochs_nb101_cifar10.png",
            "fig8_skdt_epochs_nb201_cifar10.png",
            "fig10_effects_nb101_cifar10.png",
            "fig10_effects_nb201_cifar10.png",
            "fig11_metric_pairs.png",
            "fig_factor_nb101_cifar10_sampler.name.png",
            "fig_factor_nb201_cifar10_protocol.lr.png",
            "fig_factor_nb201_cifar10_sampler.name.png",
        ]
    )
    from PIL import Image

    for p in rep.figures:
        with Image.open(p) as im:
            assert im.format == "PNG" and im.width > 200 and im.height > 100
    assert_images_exist(rep.index, expected=len(names))
    html = rep.index.read_text()
    for t in ("table_factors", "table_final", "settings", "runs"):
        assert f"tables/{t}.csv" in html and (tmp_path / "rep" / "tables" / f"{t}.md").exists()
    assert "Factors (paper Tables 3 and 4 form)" in html and "91.10 ± 0.10" in html


def test_spearman_pairs_match_scipy(study):
    runs, skipped = load_runs([study])
    assert skipped == []  # not-a-run has no summary.json: not a run dir, not an error
    pairs = {(a, b): (rho, n) for a, b, rho, n in spearman_pairs(runs)}
    assert len(pairs) == 10
    fin = [r for r in runs if r.finished]
    want = spearmanr([r.metric("skdt") for r in fin], [r.metric("final_acc") for r in fin]).statistic
    rho, n = pairs[("skdt", "final_acc")]
    assert n == 16 and rho == pytest.approx(want)


def test_grid_rows_pool_over_the_other_factor(tmp_path):
    root = tmp_path / "g"
    for s in ("random_nas", "fairnas"):
        for lr in ("0.025", "0.1"):
            for seed in (0, 1):
                acc = 90 + (s == "fairnas") + (lr == "0.1") * 2 + seed
                write_run(root, f"{s}-{lr}-{seed}", [f"sampler.name={s}", f"protocol.lr={lr}"], seed, acc)
    write_report([root], tmp_path / "rep")
    rows = {(r["factor"], r["value"]): r for r in read_csv(tmp_path / "rep" / "tables" / "table_factors.csv")}
    fair = rows[("sampler.name", "fairnas")]
    assert fair["nb201_cifar10_final_acc_n"] == "4"  # 2 lrs x 2 seeds
    assert float(fair["nb201_cifar10_final_acc_mean"]) == pytest.approx((91 + 92 + 93 + 94) / 4)


def test_no_runs_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(WsnasError, match="no run dirs"):
        write_report([tmp_path], tmp_path / "rep")
    assert main(["report", str(tmp_path / "missing"), "--out", str(tmp_path / "rep")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_setting_drops_exactly_what_the_config_hash_drops_plus_the_seed(tmp_path):
    """One list (config.NOT_IDENTITY) says what never defines a run; the report adds only the seed."""
    cfg = RunConfig()
    rec = RunRecord(tmp_path, cfg, {})
    dropped = {k for k in flatten(cfg.to_dict()) if k not in rec.experiment}
    assert dropped == {
        k
        for k in flatten(cfg.to_dict())
        if any(k == x or k.startswith(x + ".") for x in ("seed", *NOT_IDENTITY))
    }
    assert "seed" not in NOT_IDENTITY and "bench.source" in NOT_IDENTITY


def test_report_keeps_an_old_meaning_apart_from_the_new(tmp_path, monkeypatch):
    """A value whose meaning changed (config.MEANING_VERSIONS) gives another setting key, as it gives
    another config hash: old-meaning runs are never averaged with new ones."""
    import wsnas.config.identity_policy as config

    cfg = RunConfig.model_validate({"space": {"name": "nb101"}, "mapping": {"dynamic_channels": "shuffle"}})
    new = RunRecord(tmp_path, cfg, {}).setting
    monkeypatch.setattr(config, "MEANING_VERSIONS", {})
    assert RunRecord(tmp_path, cfg, {}).setting != new
    assert RunRecord(tmp_path, RunConfig(), {}).setting == "2e8d72cd9a06"  # others unchanged


def test_config_and_setting_hashes_are_golden(tmp_path):
    """Values from before NOT_IDENTITY was shared: run dirs, bench caches and settings keep their names."""
    assert RunConfig().hash() == "fcdc89f7c0dc"
    assert StandaloneConfig().hash() == "cd01a1a3746c"
    assert StandaloneConfig(arch="|a|", seed=3).hash() == "959a59543788"
    moved = RunConfig().model_copy(deep=True)
    moved.bench.source, moved.bench.cache_dir, moved.data.root = "/x/y", "/c", "/d"
    moved.out_dir, moved.name, moved.runtime.threads = "o", "n", 3
    assert moved.hash() == "fcdc89f7c0dc"
    assert RunRecord(tmp_path, RunConfig(), {}).setting == "2e8d72cd9a06"
    moved.seed = 4
    assert RunRecord(tmp_path, moved, {}).setting == "2e8d72cd9a06"


# ---- checks that every image of a report loads ----------------------------------------------


CHECK_JS = """<pre id="imgcheck"></pre><script>
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  document.getElementById('imgcheck').textContent = JSON.stringify({
    total: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'))});
});
</script></body>"""


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.slow  # starts a browser
def test_index_renders_in_headless_chromium(study, tmp_path):
    exe = chromium()
    if exe is None:
        pytest.skip("chromium is not installed (CI installs the Debian package: apt-get install chromium)")
    rep = write_report([study], tmp_path / "rep")
    page = rep.index.with_name("imgcheck.html")  # beside index.html: same relative paths
    page.write_text(rep.index.read_text().replace("</body>", CHECK_JS))
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        page.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    m = re.search(r'<pre id="imgcheck">(.*?)</pre>', proc.stdout)
    assert m and m.group(1), f"no result from chromium (rc {proc.returncode}): {proc.stderr[-2000:]}"
    result = json.loads(m.group(1).replace("&quot;", '"'))
    assert result == {"total": len(rep.figures), "broken": []}
