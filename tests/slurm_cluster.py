"""A real single-node SLURM cluster on this machine, for the tests: munged, slurmctld and slurmd as root.

Everything lives in one folder: the munge key and socket, a generated ``slurm.conf`` (free ports, no
cgroups, no accounting), state, spool, logs and pid files; ``SLURM_CONF`` points the client commands
(``sbatch``, ``squeue``, ``sinfo``) at it. Debian's ``slurm-wlm`` and ``munge`` packages provide the binaries.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol")
NODE = "localhost"


class ClusterError(RuntimeError):
    """The cluster did not come up (or go down) in time; the message holds the end of its logs."""


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if shutil.which(name) is None and not Path("/usr/sbin", name).exists()]


def _binary(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlurmCluster:
    def __init__(self, folder: Path, cpus: int = 2) -> None:
        self.folder = folder
        self.cpus = cpus
        self.conf = folder / "slurm.conf"
        self.munge_socket = folder / "munge" / "munge.sock"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    def start(self, timeout: float = 60) -> None:
        self._start_munge()
        self._write_conf()
        for daemon in ("slurmctld", "slurmd"):
            self._run([_binary(daemon), "-f", str(self.conf)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = subprocess.run(["sinfo", "-h", "-n", NODE, "-o", "%T"], capture_output=True, text=True, env=self.env)
            if state.stdout.strip() == "idle":
                return
            time.sleep(0.5)
        raise ClusterError(f"node {NODE} not idle after {timeout} s (sinfo: {state.stdout.strip() or state.stderr.strip()})\n"
                           + self.logs())

    def stop(self, timeout: float = 30) -> None:
        # The pids first: the daemons remove their pid files as they go.
        slurm_pids = [_read_pid(self.folder / name) for name in ("slurmctld.pid", "slurmd.pid")]
        subprocess.run(["scontrol", "shutdown"], capture_output=True, env=self.env)
        _wait_gone(slurm_pids, timeout)
        munge_pid = _read_pid(self.folder / "munge" / "munged.pid")
        subprocess.run([_binary("munged"), "--stop", f"--socket={self.munge_socket}"], capture_output=True)
        _wait_gone([munge_pid], timeout)

    def wait_idle(self, timeout: float = 300) -> None:
        """Until no job is queued or running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            queue = subprocess.run(["squeue", "-h", "-o", "%i %T %r"], capture_output=True, text=True, env=self.env)
            if queue.returncode == 0 and not queue.stdout.strip():
                return
            time.sleep(1)
        raise ClusterError(f"jobs still queued after {timeout} s:\n{queue.stdout}\n" + self.logs())

    def logs(self) -> str:
        parts = []
        for name in ("slurmctld.log", "slurmd.log", "munge/munged.log"):
            path = self.folder / name
            if path.exists():
                parts.append(f"--- {path} (end)\n" + "\n".join(path.read_text(errors="replace").splitlines()[-15:]))
        return "\n".join(parts)

    def _start_munge(self) -> None:
        munge = self.folder / "munge"
        munge.mkdir(mode=0o700)
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self._run([
            _binary("munged"), "--force", f"--socket={self.munge_socket}", f"--key-file={key}",
            f"--pid-file={munge / 'munged.pid'}", f"--log-file={munge / 'munged.log'}", f"--seed-file={munge / 'munged.seed'}",
        ])

    def _write_conf(self) -> None:
        for name in ("state", "spool"):
            (self.folder / name).mkdir()
        f = self.folder
        self.conf.write_text(f"""\
ClusterName=imagenettiny
SlurmctldHost={NODE}
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={f / 'state'}
SlurmdSpoolDir={f / 'spool'}
SlurmctldPidFile={f / 'slurmctld.pid'}
SlurmdPidFile={f / 'slurmd.pid'}
SlurmctldLogFile={f / 'slurmctld.log'}
SlurmdLogFile={f / 'slurmd.log'}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
NodeName={NODE} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes={NODE} Default=YES MaxTime=INFINITE State=UP
""")

    def _run(self, command: list[str]) -> None:
        result = subprocess.run(command, capture_output=True, text=True, env=self.env, timeout=60)
        if result.returncode != 0:
            raise ClusterError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}\n" + self.logs())


def _wait_gone(pids: list[Optional[int]], timeout: float) -> None:
    """Wait for daemons this cluster started to exit; end those that will not."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        while pid is not None and _alive(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.2)


def _read_pid(path: Path) -> Optional[int]:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
