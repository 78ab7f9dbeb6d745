"""`wsnas list ...`, `wsnas config path NAME`, and the shipped configs installed as package data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wsnas.cli.main import main
from wsnas.config import load_config
from wsnas.core.errors import ConfigError
from wsnas.presets import resolve_config, shipped, shipped_path
from wsnas.presets.demo import next_steps
from wsnas.spaces import SPACES
from wsnas.spaces.check import check_config
from wsnas.spaces.factors import Above, factor_fields
from wsnas.spaces.samplers import SAMPLERS
from wsnas.spaces.table1 import TABLE1, config_values, space_support

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "src" / "wsnas" / "configs"


def lines_of(capsys, *argv: str) -> list[str]:
    assert main(list(argv)) == 0
    return capsys.readouterr().out.splitlines()


def test_list_spaces_and_samplers_one_line_each(capsys):
    spaces = lines_of(capsys, "list", "spaces")
    assert [x.split()[0] for x in spaces] == SPACES.names()
    nb201 = next(x for x in spaces if x.startswith("nb201 "))
    assert "NASBench-201" in nb201 and "samplers: random_nas, random_a, fairnas" in nb201
    samplers = lines_of(capsys, "list", "samplers")
    assert [x.split()[0] for x in samplers] == SAMPLERS.names()
    assert all(len(x.split()) > 2 for x in samplers)  # a description after the name


def test_list_configs_are_the_repository_configs_and_presets(capsys):
    rows = lines_of(capsys, "list", "configs")
    listed = {x.split()[0]: Path(x.split()[2]) for x in rows}
    repo = {p.stem for p in (ROOT / "src" / "wsnas" / "configs").glob("*.yaml")}
    presets = {p.stem for p in (ROOT / "src" / "wsnas" / "presets").glob("*.yaml")}
    assert set(listed) == repo | presets
    for name, path in listed.items():
        assert path.is_absolute() and path.is_file(), name
    assert not (ROOT / "src" / "wsnas" / "configs").is_symlink()  # a real folder, as in a wheel


def test_list_factors_is_table1_from_the_declarations(capsys):
    rows = lines_of(capsys, "list", "factors")
    assert len(rows) == len(TABLE1)
    for line, row in zip(rows, TABLE1, strict=True):
        assert line.split("  ")[0].strip() == f"{row.group}: {row.factor}" and f" {row.field} " in line
    assert set(factor_fields()) <= {r.field for r in TABLE1}  # every declared factor field is listed
    dyn = next(x for x in rows if " mapping.dynamic_channels " in x)
    assert "fixed, shuffle, shuffle_consistent, interpolate" in dyn and dyn.endswith("spaces: nb101")
    ops = next(x for x in rows if " mapping.ops_on " in x)
    assert "nb101 (nodes)" in ops and "nb201_mini" not in ops


@pytest.mark.parametrize(
    "field",
    [r.field for r in TABLE1 if " " not in config_values(r.field).split(",")[0] or r.field == "sampler.name"],
)
def test_listed_support_is_what_the_config_check_accepts(field):
    """For every enumerated factor, space and value: listed as supported <=> check_config accepts it
    (on top of a shipped config of the space, which is valid there)."""
    values = config_values(field).split(", ")
    section, key = field.split(".")
    for name in SPACES.names():
        base = next((p for _, p in shipped().values() if load_config(p).space.name == name), None)
        if base is None:
            continue  # a space registered by another test module
        space = SPACES.get(name)()
        support = space_support(space, field)
        decl = space.factors.get(field)
        needs = [
            f"{k}={str(v.bound + 0.5 if isinstance(v, Above) else v).lower()}"
            for k, v in (decl.requires if decl else ())
        ]
        default = str(load_config(base).to_dict()[section][key]).lower()
        for value in values:
            if value == default:
                continue  # the space's own setting is accepted, listed or not
            try:
                check_config(load_config(base, [f"{field}={value}", *needs]))
                accepted = True
            except ConfigError:
                accepted = False
            listed = support is not None and support.accepts(value)
            assert accepted == listed, (name, field, value, support)


def test_config_path_from_any_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = Path(lines_of(capsys, "config", "path", "nb201-quick")[0])
    assert path.is_absolute() and path == shipped_path("nb201-quick")
    cfg = load_config(path)  # its _base_ (nb201.yaml) resolves next to it
    assert cfg.space.name == "nb201" and cfg.lowfi.cells_per_stage == 1
    assert main(["config", "path", "nb201-quik"]) == 2
    assert "did you mean 'nb201-quick'" in capsys.readouterr().err


def test_demo_hint_names_shipped_configs_cpu_sized_first():
    text = "\n".join(next_steps())
    assert text.index("wsnas train nb201-quick ") < text.index("wsnas train nb201 ")
    assert ".yaml" not in text  # names, which resolve from any folder, not paths
    for name in ("nb201-quick", "nb201"):
        assert resolve_config(name) == shipped_path(name)


@pytest.mark.slow  # runs setuptools
def test_configs_are_installed_as_package_data(tmp_path):
    """build_py copies what a wheel holds: the configs and presets must be among its files."""
    pytest.importorskip("setuptools")
    src = tmp_path / "src"
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "src", src, symlinks=True, ignore=skip)
    out = tmp_path / "lib"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import setuptools; setuptools.setup()",
            "-q",
            "build_py",
            "--build-lib",
            str(out),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    built = {p.relative_to(out / "wsnas").as_posix() for p in (out / "wsnas").rglob("*.yaml")}
    want = {f"configs/{n}.yaml" for n, (kind, _) in shipped().items() if kind == "config"}
    want |= {f"presets/{n}.yaml" for n, (kind, _) in shipped().items() if kind == "preset"}
    want |= {f"configs/sweeps/{p.name}" for p in (SHIPPED / "sweeps").glob("*.yaml")}
    assert want <= built and all(
        (out / "wsnas" / w).is_file() and not (out / "wsnas" / w).is_symlink() for w in want
    )
    cfg = load_config(out / "wsnas" / "configs" / "nb201-quick.yaml")
    assert cfg.space.name == "nb201"


def test_list_algorithms_names_each_with_its_defaults_and_reference(capsys):
    from wsnas.spaces.algorithms import ALGORITHMS

    rows = lines_of(capsys, "list", "algorithms")
    assert [r.split()[0] for r in rows] == ["none", *ALGORITHMS.names()]
    gdas = next(r for r in rows if r.startswith("gdas"))
    assert "tau_max=10.0" in gdas and "xautodl" in gdas and "GDAS.py" in gdas


def test_estimate_help_lists_every_registered_estimator_unbroken(capsys, monkeypatch):
    """The registry is the only list: `wsnas estimate --help` names each of its estimators whole (no
    name broken across lines, as `j\\nacob_cov` was), however narrow the terminal."""
    from wsnas.cli.main import main
    from wsnas.estimators.registry import known_names

    monkeypatch.setenv("COLUMNS", "60")
    with pytest.raises(SystemExit):
        main(["estimate", "--help"])
    words = set(capsys.readouterr().out.replace(",", " ").split())
    assert set(known_names()) <= words
