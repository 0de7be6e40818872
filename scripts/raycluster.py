#!/usr/bin/env python3
"""A throw-away local Ray cluster for the tests and benchmarks, and to try ``@ray``.

    python scripts/raycluster.py            # start one, print how to use it, stop on Ctrl-C

Ray listens on every address of the machine unless it is kept in a network of its own, and
``ray stop`` stops every Ray process on the machine. So, as root on Linux, the cluster runs in
private network and PID namespaces (``unshare -n -p -f``): only a loopback interface, and
processes that all end when the namespace's first process is killed. Clients join its network
with :meth:`Cluster.command` (``nsenter -n``). Elsewhere (no root) it runs on this machine's
loopback address, and is stopped by its process tree.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PORT = 6380
READY_WITHIN = 120.0

_START = """
set -e
ip link set lo up
ip addr add 127.0.0.2/8 dev lo 2>/dev/null || true
"{ray}" start --head --node-ip-address=127.0.0.1 --port={port} --num-cpus={cpus} \\
    --object-store-memory={store} --temp-dir="{temp}" --include-dashboard=false \\
    --disable-usage-stats > "{log}" 2>&1
touch "{ready}"
exec sleep infinity
"""


def ray_binary() -> str | None:
    here = Path(sys.executable).parent / "ray"
    return str(here) if here.exists() else shutil.which("ray")


class Cluster:
    """A running cluster: its address, and how to run a command that can reach it."""

    def __init__(self, proc: subprocess.Popen, folder: str, isolated: bool, cpus: int) -> None:
        self.proc, self.folder, self.isolated, self.cpus = proc, folder, isolated, cpus
        self.address = f"127.0.0.1:{PORT}"
        self.init_pid: int | None = None  # the namespace's first process, once known

    @property
    def env(self) -> dict[str, str]:
        return {"HEADWATER_RAY_ADDRESS": self.address, "RAY_USAGE_STATS_ENABLED": "0",
                "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}

    def command(self, argv: list[str]) -> list[str]:
        """``argv`` run inside the cluster's network (as is, when it has none of its own)."""
        if not self.isolated:
            return list(argv)
        return ["nsenter", "-t", str(self.init_pid), "-n", *argv]

    def stop(self) -> None:
        if self.isolated and self.init_pid is not None:
            try:
                os.kill(self.init_pid, signal.SIGKILL)  # ends every process of the namespace
            except ProcessLookupError:
                pass
        elif self.proc.poll() is None:
            subprocess.run([ray_binary() or "ray", "stop", "--force"], capture_output=True, check=False,
                           env=dict(os.environ, RAY_TMPDIR=self.folder))
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def start(cpus: int = 2, store_bytes: int = 200_000_000) -> Cluster:
    """A new head node with ``cpus`` CPUs; returns once it accepts clients."""
    ray = ray_binary()
    if ray is None:
        raise RuntimeError("no `ray` command: pip install 'headwater[ray]' (the test extra has it)")
    folder = tempfile.mkdtemp(prefix="hw-ray-")
    ready = os.path.join(folder, "ready")
    isolated = os.geteuid() == 0 and sys.platform.startswith("linux") and shutil.which("unshare") is not None
    script = _START.format(ray=ray, port=PORT, cpus=cpus, store=store_bytes, temp=os.path.join(folder, "t"),
                           log=os.path.join(folder, "start.log"), ready=ready)
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    if isolated:
        argv = ["unshare", "-n", "-p", "-f", "--mount-proc", "bash", "-c", script]
    else:
        argv = ["bash", "-c", script.replace("ip link set lo up\n", "").replace(
            "ip addr add 127.0.0.2/8 dev lo 2>/dev/null || true\n", "")]
    log = open(os.path.join(folder, "unshare.log"), "wb")  # noqa: SIM115 - the process keeps it
    proc = subprocess.Popen(argv, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    cluster = Cluster(proc, folder, isolated, cpus)
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if os.path.exists(ready):
            if isolated:
                cluster.init_pid = _namespace_init(proc.pid)
            return cluster
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    log = Path(folder, "start.log")
    text = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    cluster.init_pid = _namespace_init(proc.pid) if isolated and proc.poll() is None else None
    cluster.stop()
    raise RuntimeError(f"the Ray cluster did not start within {READY_WITHIN:.0f} s:\n{text}")


def _namespace_init(unshare_pid: int) -> int:
    """The host PID of the namespace's first process: ``unshare -f``'s child."""
    with open(f"/proc/{unshare_pid}/task/{unshare_pid}/children") as f:
        return int(f.read().split()[0])


def main() -> None:
    cluster = start()
    print(f"Ray is running at {cluster.address}"
          + (" in a private network namespace" if cluster.isolated else ""))
    print("Run a flow on it with:")
    prefix = " ".join(cluster.command([]))
    print(f"  HEADWATER_RAY_ADDRESS={cluster.address} {prefix + ' ' if prefix else ''}python flow.py run --with ray")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
