"""A real one-node Slurm on this machine for the slow tier: munged, slurmctld and slurmd from
Debian's packages (slurm-wlm, munge), everything under one folder, started as root.

`start(folder)` writes a munge key and a slurm.conf for localhost (no cgroups, no accounting:
proctrack/linuxproc, task/none, select/cons_tres on cores), starts the three daemons and waits
until the node is idle; it returns the environment clients need (SLURM_CONF) or raises
`Unavailable` saying why. `stop(folder)` ends the daemons it started (by their pid files).

    python tests/sweep/slurm_cluster.py start /tmp/wsnas-slurm   # prints `export SLURM_CONF=...`
    python tests/sweep/slurm_cluster.py stop /tmp/wsnas-slurm
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DAEMONS = ("slurmd", "slurmctld", "munged")
NEEDED = ("munged", "munge", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")


class Unavailable(RuntimeError):
    """Slurm cannot be started here; the message says why."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def slurm_conf(folder: Path, host: str, cpus: int, ctld_port: int, d_port: int) -> str:
    f = folder
    return f"""ClusterName=wsnas-test
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={f}/munge/munge.sock
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
StateSaveLocation={f}/state
SlurmdSpoolDir={f}/spool
SlurmctldPidFile={f}/slurmctld.pid
SlurmdPidFile={f}/slurmd.pid
SlurmctldLogFile={f}/log/slurmctld.log
SlurmdLogFile={f}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SchedulerParameters=sched_interval=1
KillWait=5
MinJobAge=600
InactiveLimit=0
Waittime=0
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
    if r.returncode != 0:
        raise Unavailable(
            f"{what}: `{' '.join(cmd)}` exited {r.returncode}: {(r.stderr or r.stdout).strip()}"
        )


def start(folder: str | os.PathLike, cpus: int | None = None, timeout_s: float = 60) -> dict[str, str]:
    """Start munged, slurmctld and slurmd under FOLDER; the client environment, or `Unavailable`."""
    missing = [c for c in NEEDED if shutil.which(c) is None]
    if missing:
        raise Unavailable(
            f"not installed: {', '.join(missing)} (apt-get install slurm-wlm munge; .ci/run does)"
        )
    if os.geteuid() != 0:
        raise Unavailable("the test cluster's daemons run as root; this is not root")
    f = Path(folder).resolve()
    for sub in ("munge", "state", "spool", "log"):
        (f / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(f / "munge", 0o755)
    key = f / "munge" / "munge.key"
    if not key.exists():
        key.write_bytes(os.urandom(1024))
    os.chmod(key, 0o600)
    host = socket.gethostname()
    cpus = cpus or os.cpu_count() or 1
    conf = f / "slurm.conf"
    conf.write_text(slurm_conf(f, host, cpus, _free_port(), _free_port()))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    m = f / "munge"
    _run(
        [
            "munged",
            "--force",
            f"--socket={m}/munge.sock",
            f"--key-file={key}",
            f"--log-file={m}/munged.log",
            f"--pid-file={m}/munged.pid",
            f"--seed-file={m}/munged.seed",
        ],
        env,
        "munged",
    )
    _run(["slurmctld", "-f", str(conf), "-i"], env, "slurmctld")
    _run(["slurmd", "-f", str(conf)], env, "slurmd")
    deadline = time.monotonic() + timeout_s
    state = ""
    while time.monotonic() < deadline:
        r = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True, check=False)
        state = (r.stdout or r.stderr).strip()
        if state in ("idle", "mix", "alloc"):
            return {"SLURM_CONF": str(conf)}
        time.sleep(0.5)
    logs = "; ".join(
        f"{p.name}: {p.read_text()[-400:]}" for p in sorted((f / "log").glob("*.log")) if p.exists()
    )
    stop(f)
    raise Unavailable(f"the node did not come up in {timeout_s:.0f} s (sinfo: {state!r}); {logs}")


def stop(folder: str | os.PathLike) -> None:
    """End the daemons started under FOLDER (their pid files), slurmd first."""
    f = Path(folder).resolve()
    for pid_file in (f / "slurmd.pid", f / "slurmctld.pid", f / "munge" / "munged.pid"):
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError):
            continue
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.1)


if __name__ == "__main__":
    action, where = sys.argv[1], sys.argv[2]
    if action == "start":
        print(f"export SLURM_CONF={start(where)['SLURM_CONF']}")
    else:
        stop(where)
