"""Plugins by entry point, as a user adds them: the example package of CONTRIBUTING.md
(examples/plugin) is installed for real (pip builds it offline into a folder put on PYTHONPATH, so
importlib.metadata finds its dist-info and entry points), and its estimator and sampler run through
`wsnas list`, `wsnas estimate` and `wsnas train`; a plugin that fails to import stops the command
that reads its registry with one line naming it, not a traceback. Each `wsnas` process costs a few
seconds of CPU (imports); the fast tier runs list, estimate (12 archs, 4 channels) and the broken
plugin, about 25 s of CPU in all."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

from wsnas.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "examples" / "plugin"
BUILT = ("build", "dist", "*.egg-info", "__pycache__")
"""What building the package leaves in its folder (not part of the example)."""
SHOWN = re.compile(r"^`(examples/plugin/[^`]+)`:\n\n```[a-z]*\n(.*?)^```$", re.M | re.S)
"""A file as CONTRIBUTING.md shows it: its path in backticks and a colon, a blank line, a code block."""
TINY = [
    "runtime.device=cpu",
    "runtime.threads=1",
    "runtime.progress=false",
]
TRAIN = [*TINY, "protocol.epochs=1", "eval.epochs=[]", "eval.pool_size=12", "lowfi.channels=4"]

BROKEN_PYPROJECT = """\
[build-system]
requires = ["setuptools>=70.1"]
build-backend = "setuptools.build_meta"

[project]
name = "wsnas-broken-plugin"
version = "0.1.0"

[project.entry-points."wsnas.estimators"]
broken = "wsnas_broken_plugin"

[tool.setuptools]
py-modules = ["wsnas_broken_plugin"]
"""


def example_files() -> list[Path]:
    """The files of examples/plugin, without what a build leaves there."""
    skip = shutil.ignore_patterns(*BUILT)
    out = []
    for folder, dirs, files in os.walk(PLUGIN):
        dirs[:] = sorted(set(dirs) - skip(folder, dirs))
        out += [Path(folder) / f for f in sorted(set(files) - skip(folder, files))]
    return out


def pip_install(src: Path, target: Path) -> None:
    """SRC built and installed into TARGET by pip, offline (no index, no build isolation, no deps);
    skips when this Python cannot build a package that way."""
    if importlib.util.find_spec("pip") is None:
        pytest.skip("pip is not installed in this Python: cannot install the example plugin")
    try:  # its version from the metadata: importing setuptools here would replace distutils
        have = version("setuptools")
    except PackageNotFoundError:
        pytest.skip("no setuptools here to build the example plugin offline (the test extra has it)")
    if tuple(int(p) for p in re.findall(r"\d+", have)[:2]) < (70, 1):
        pytest.skip(f"setuptools {have} < 70.1 (the example's build requirement; the test extra has it)")
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index"]
    cmd += ["--no-cache-dir", "--quiet", "--disable-pip-version-check", "--target", str(target), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"pip could not install {src}:\n{proc.stdout}\n{proc.stderr}"


def env_with(target: Path, cache: Path) -> dict[str, str]:
    """This checkout's wsnas plus the packages installed in TARGET."""
    path = os.pathsep.join([str(target), str(ROOT / "src")])
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "WSNAS_CACHE": str(cache)}


def wsnas(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "wsnas", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory) -> dict[str, str]:
    """The environment of a `wsnas` process that has the example plugin installed."""
    tmp = tmp_path_factory.mktemp("plugin")
    src = tmp / "src"
    shutil.copytree(PLUGIN, src, ignore=shutil.ignore_patterns(*BUILT))  # a build leaves the tree as it is
    pip_install(src, tmp / "site")
    return env_with(tmp / "site", tmp / "cache")


@pytest.fixture(scope="module")
def broken_env(tmp_path_factory) -> dict[str, str]:
    """The environment of a `wsnas` process with an estimator plugin whose module raises on import."""
    tmp = tmp_path_factory.mktemp("broken")
    src = tmp / "src"
    src.mkdir()
    (src / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    (src / "wsnas_broken_plugin.py").write_text('raise RuntimeError("this plugin is broken on purpose")\n')
    pip_install(src, tmp / "site")
    return env_with(tmp / "site", tmp / "cache")


def test_contributing_shows_every_file_of_the_example_plugin_as_it_is():
    shown = dict(SHOWN.findall((ROOT / "CONTRIBUTING.md").read_text()))
    files = {f.relative_to(ROOT).as_posix(): f.read_text() for f in example_files()}
    assert sorted(shown) == sorted(files)
    for rel, text in files.items():
        assert shown[rel] == text, f"CONTRIBUTING.md shows another {rel} than the file"


def test_list_shows_the_plugin_estimator_and_sampler_beside_the_built_in_ones(plugin_env):
    est = wsnas(plugin_env, "list", "estimators")
    assert est.returncode == 0, est.stderr
    rows = {line.split()[0]: line.split()[1] for line in est.stdout.splitlines() if line.strip()}
    assert rows["weight_l1"] == "zero_cost" and rows["synflow"] == "zero_cost"
    samplers = wsnas(plugin_env, "list", "samplers")
    assert samplers.returncode == 0, samplers.stderr
    names = [line.split()[0] for line in samplers.stdout.splitlines() if line.strip()]
    assert "first_of_two" in names and "random_nas" in names


def test_estimate_scores_the_runs_networks_with_the_plugin_estimator(plugin_env, tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("sklearn")  # digits
    from wsnas.config import load_config
    from wsnas.estimators.scoring import arch_seed
    from wsnas.spaces import get_space

    args = ["estimate", "demo", "--estimators", "weight_l1,params", "--archs", "12", "--channels", "4"]
    proc = wsnas(plugin_env, *args, "--batch", "16", *TINY, f"out_dir={tmp_path}", "--json", "-q")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["status"] == "finished" and out["estimators"]["weight_l1"]["n_nan"] == 0
    assert math.isfinite(out["estimators"]["weight_l1"]["kdt"])
    with open(Path(out["run_dir"]) / "scores.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12 and len({r["weight_l1"] for r in rows}) > 1
    # the value is the plugin's definition on the network the runner promises (registry docstring):
    # the arch's stand-alone net at --channels, the benchmark's cells, seeded per arch
    space, seed = get_space("nb201_mini"), load_config("demo").seed
    for row in rows[:3]:
        torch.manual_seed(arch_seed(seed, row["arch"]))
        net = space.standalone(space.parse(row["arch"]), 4, 1, 10)
        layers = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
        want = sum(float(m.weight.detach().abs().sum()) for m in layers)
        assert float(row["weight_l1"]) == pytest.approx(want, rel=1e-6), row["arch"]


def first_train_loss(run_dir: Path) -> float:
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    return next(r["train_loss"] for r in records if r["type"] == "epoch")


@pytest.mark.slow  # two 1-epoch trainings (one a `wsnas train` process): about 15 s of CPU
def test_train_draws_its_paths_from_the_plugin_sampler(plugin_env, tmp_path, monkeypatch):
    pytest.importorskip("sklearn")  # digits
    args = ["train", "demo", "sampler.name=first_of_two", *TRAIN, f"out_dir={tmp_path}", "name=p"]
    proc = wsnas(plugin_env, *args, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["status"] == "finished" and out["epoch"] == 1 and math.isfinite(out["kdt"])
    assert "name: first_of_two" in (tmp_path / "p" / "config.yaml").read_text()
    # the same run with Random-NAS (here, without the plugin) trains other paths: another loss
    monkeypatch.setenv("WSNAS_CACHE", plugin_env["WSNAS_CACHE"])
    assert main(["train", "demo", "sampler.name=random_nas", *TRAIN, f"out_dir={tmp_path}", "name=r"]) == 0
    assert first_train_loss(tmp_path / "p") != first_train_loss(tmp_path / "r")


def test_a_plugin_that_fails_to_import_stops_the_command_with_one_line_naming_it(broken_env, tmp_path):
    named = [
        "estimator plugin 'broken'",
        "wsnas_broken_plugin",
        "wsnas-broken-plugin",
        "wsnas.estimators",
        "RuntimeError: this plugin is broken on purpose",
    ]
    for args in (
        ["list", "estimators"],
        ["estimate", "demo", "--estimators", "params", *TINY, f"out_dir={tmp_path / 'e'}"],
    ):
        proc = wsnas(broken_env, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("wsnas: error: "), (args, proc.stderr)
        assert all(n in lines[0] for n in named), (args, lines[0])
    assert not (tmp_path / "e").exists()  # refused before anything was written
    other = wsnas(broken_env, "list", "samplers")  # a registry that does not read that group
    assert other.returncode == 0 and "random_nas" in other.stdout, other.stderr


@pytest.mark.slow  # one more process
def test_estimate_help_with_a_broken_plugin_names_it_without_a_traceback(broken_env):
    proc = wsnas(broken_env, "estimate", "--help")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert "estimator plugin 'broken'" in proc.stdout
