"""Commands that need no tensors never import torch (issue 27: start-up under a few tenths of a second)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

LIGHT = [
    ["--version"],
    ["--help"],
    ["train", "--help"],
    ["list", "spaces"],
    ["list", "samplers"],
    ["list", "configs"],
    ["list", "sweeps"],
    ["list", "factors"],
    ["config", "path", "nb201-quick"],
    ["config", "show", "nb201-quick", "--hash"],
    ["space", "info", "nb201"],
    ["search", "R", "--algo", "evolutoin", "--budget", "1"],
]
"""Commands that read configs and registries only."""

PROBE = """
import json, sys
from wsnas.cli.main import main
heavy = {}
for argv in json.loads(sys.argv[1]):
    try:
        main(argv)
    except SystemExit:
        pass
    mods = ("torch", "google.protobuf", "matplotlib", "scipy.stats")
    heavy[" ".join(argv)] = sorted(m for m in mods if m in sys.modules)
print(json.dumps(heavy), file=sys.stderr)
"""


def test_light_commands_do_not_import_torch():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(LIGHT)], env=env, capture_output=True, text=True, timeout=120
    )
    heavy = json.loads(out.stderr.strip().splitlines()[-1])
    assert set(heavy) == {" ".join(a) for a in LIGHT}
    assert {k: v for k, v in heavy.items() if v} == {}
