"""``headwater ui`` as a user types it: where it looks, ports, tokens, the printed URL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# what the installed ``headwater`` script runs
HEADWATER = [sys.executable, "-c", "from headwater.cli.main import main; main()"]


def headwater(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 30
              ) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    return subprocess.run([*HEADWATER, *args], cwd=cwd, env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=timeout)


def test_a_missing_datastore_says_where_it_looked(tmp_path: Path) -> None:
    result = headwater("ui", cwd=tmp_path)
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert str(tmp_path) in out and "HEADWATER_HOME" in out and "--datastore-root" in out
    missing = tmp_path / "nowhere" / ".headwater"
    result = headwater("--datastore-root", str(missing), "ui", cwd=tmp_path)
    assert result.returncode != 0
    assert str(missing) in result.stdout + result.stderr


def test_listening_beyond_this_machine_needs_a_token(datastore: Path) -> None:
    result = headwater("--datastore-root", str(datastore), "ui", "--host", "0.0.0.0", cwd=datastore.parent)
    assert result.returncode == 2
    out = result.stdout + result.stderr
    assert "--token" in out and "0.0.0.0" in out


def test_a_port_in_use_is_reported_with_a_free_one(datastore: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        result = headwater("--datastore-root", str(datastore), "ui", "--port", str(port), cwd=datastore.parent)
    finally:
        taken.close()
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert f"port {port}" in out and "already in use" in out and "Try --port" in out


def test_serves_the_datastore_and_prints_its_url(datastore: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    proc = subprocess.Popen([*HEADWATER, "ui", "--port", "0"],
                            cwd=datastore.parent, env={**base, "HEADWATER_HOME": str(datastore)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        assert str(datastore) in lines[0]
        url = lines[1].strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(url + "TrainFlow", timeout=5) as response:
                    assert response.status == 200
                    assert b"TrainFlow" in response.read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert proc.returncode in (0, 130, -signal.SIGINT)


def _without(tmp_path: Path, *modules: str) -> dict[str, str]:
    """An environment in which importing ``modules`` fails as if they were not installed."""
    blocked = tmp_path / "not-installed"
    blocked.mkdir()
    for name in modules:
        (blocked / f"{name}.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{name}'\", name='{name}')\n")
    return {"PYTHONPATH": os.pathsep.join([str(blocked), *filter(None, [os.environ.get("PYTHONPATH")])])}


def test_without_starlette_the_ui_says_what_to_install_in_one_line(datastore: Path, tmp_path: Path) -> None:
    env = {"HEADWATER_HOME": str(datastore), **_without(tmp_path, "starlette")}
    result = headwater("ui", "--port", "0", cwd=datastore.parent, env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert "headwater ui needs starlette" in lines[0] and "pip install 'starlette>=0.37' 'uvicorn>=0.29'" in lines[0]


def test_the_ui_needs_no_extra_and_the_ui_extra_still_installs() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    core = {req.split(">")[0].split("=")[0].strip() for req in project["dependencies"]}
    assert {"starlette", "uvicorn"} <= core
    # `pip install 'headwater[ui]'` from older instructions keeps working.
    assert {req.split(">")[0] for req in project["optional-dependencies"]["ui"]} == {"starlette", "uvicorn"}


def test_import_headwater_does_not_load_the_ui_server() -> None:
    code = "import sys, headwater; print(sorted(m for m in ('starlette', 'uvicorn') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out
