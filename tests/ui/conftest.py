"""A datastore made by really running small flows, a real UI server on it, a real browser.

``datastore`` (built once per session) holds:

    TrainFlow/1   ana  succeeded  tag experiment, alpha 0.7: start -foreach 4-> train -> choose -> end
                                  cards on end (a probe of the sandbox, one whose file is gone)
                                  and on choose (not UTF-8)
    TrainFlow/2   bob  succeeded  tag baseline
    FailFlow/1    ana  failed     flaky needed a retry (attempt 0 raised); parse raised ValueError;
                                  the card index of parse is corrupted
    StuckFlow/1   ana  abandoned  written directly: running, no heartbeat for an hour (its task's
                                  last one 30 s after the start)
    BigFlow/1     ana  failed     written directly: a 2,000-way foreach, 3 tasks failed
    ManyFlow/1..120               written directly: enough runs for three pages

``server`` serves it on a free port of 127.0.0.1 from a thread; ``browser`` is headless
Chromium (Debian's, installed by scripts/install-browser) driven by Playwright, one per module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import need_module, unavailable

FLOWS = Path(__file__).parent / "flows"
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]

PROBE_CARD = """<!doctype html><html><head><title>probe</title></head><body>
<h1>Probe card</h1><p id="result">checking</p>
<script>
var out = [];
try { out.push("parent:" + parent.document.title); } catch (e) { out.push("parent:blocked"); }
try { out.push("cookie:" + (document.cookie || "empty")); } catch (e) { out.push("cookie:blocked"); }
try { localStorage.setItem("k", "v"); out.push("storage:open"); } catch (e) { out.push("storage:blocked"); }
document.getElementById("result").textContent = out.join(" ");
</script></body></html>"""


def flow_env(root: Path, user: str = "ana") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env.update(HEADWATER_HOME=str(root), HEADWATER_USER=user, PYTHONUNBUFFERED="1")
    return env


def run_flow(root: Path, name: str, *args: str, user: str = "ana", ok: bool = True) -> None:
    """``python <flow>.py run ARGS`` in a subprocess, as a user would."""
    proc = subprocess.run([sys.executable, str(FLOWS / f"{name}.py"), "run", "--quiet", *args],
                          cwd=root.parent, env=flow_env(root, user), capture_output=True, text=True, timeout=120)
    assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr


def start_flow(root: Path, name: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(FLOWS / f"{name}.py"), "run", *args], cwd=root.parent,
                            env=flow_env(root), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def query(root: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import sqlite3

    db = sqlite3.connect(f"file:{root / 'metadata.db'}?mode=ro", uri=True)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def task_id(root: Path, flow: str, run: int, step: str) -> int:
    return query(root, "SELECT MIN(task_id) FROM tasks WHERE flow = ? AND run_number = ? AND step = ?",
                 (flow, run, step))[0][0]


def write_card(root: Path, flow: str, run: int, step: str, task: int, attempt: int, index: int, html: str,
               *, final: bool = True, card_id: str | None = None) -> Path:
    from headwater.datastore.datastore import open_datastore

    folder = open_datastore(root).cards(flow, run, step, task, attempt)
    folder.write(index, "blank", card_id, html, final=final)
    return Path(folder.location)


def _direct_runs(root: Path) -> None:
    """Records the runtime would write, made directly: fast, and states a test cannot wait for."""
    from headwater.metadata import PARAMS_STEP, PARAMS_TASK, SQLiteMetadata, Status

    md = SQLiteMetadata(root)
    try:
        with md.transaction():
            graph = {"name": "StuckFlow", "steps": [
                {"name": "start", "type": "start", "next": ["end"]}, {"name": "end", "type": "end", "next": []}]}
            run = md.new_run("StuckFlow", user="ana", tags=[], system_tags=["user:ana"], graph=graph)
            md.new_task("StuckFlow", run, PARAMS_TASK, PARAMS_STEP, status=Status.SUCCEEDED, finished=True)
            md.new_task("StuckFlow", run, 1, "start", parents=[0])
            md.start_attempt("StuckFlow", run, 1, 0, host="gone", pid=1)
            old = time.time() - 3600
            md.db.execute("UPDATE runs SET created_at = ?, heartbeat_at = ? WHERE flow = 'StuckFlow'", (old, old))
            md.db.execute("UPDATE attempts SET started_at = ?, heartbeat_at = ? WHERE flow = 'StuckFlow'",
                          (old, old + 30))

            graph = {"name": "BigFlow", "steps": [
                {"name": "start", "type": "foreach", "next": ["train"], "foreach": "items"},
                {"name": "train", "type": "linear", "next": ["join"]},
                {"name": "join", "type": "join", "next": ["end"]}, {"name": "end", "type": "end", "next": []}]}
            run = md.new_run("BigFlow", user="ana", tags=["huge"], system_tags=["user:ana"], graph=graph)
            md.new_task("BigFlow", run, PARAMS_TASK, PARAMS_STEP, status=Status.SUCCEEDED, finished=True)
            md.new_task("BigFlow", run, 1, "start", parents=[0], status=Status.SUCCEEDED, finished=True)
            for i in range(2000):
                tid = 2 + i
                frames = [{"task": 1, "step": "start", "var": "items", "index": i, "num_splits": 2000, "value": i}]
                failed = i in (7, 700, 1999)
                md.new_task("BigFlow", run, tid, "train", foreach_stack=frames, parents=[1],
                            status=Status.FAILED if failed else Status.SUCCEEDED, finished=True)
            md.finish_run("BigFlow", run, Status.FAILED)

            for i in range(120):
                run = md.new_run("ManyFlow", user="ana" if i % 2 else "bob", tags=["even"] if i % 2 == 0 else [],
                                 system_tags=["user:ana" if i % 2 else "user:bob"])
                md.finish_run("ManyFlow", run, Status.SUCCEEDED if i % 3 else Status.FAILED)
    finally:
        md.close()


def build_datastore(root: Path) -> Path:
    root.mkdir(parents=True)
    run_flow(root, "train_flow", "--tag", "experiment", "--alpha", "0.7")
    run_flow(root, "train_flow", "--tag", "baseline", user="bob")
    run_flow(root, "fail_flow", ok=False)
    _direct_runs(root)
    end = task_id(root, "TrainFlow", 1, "end")
    write_card(root, "TrainFlow", 1, "end", end, 0, 0, PROBE_CARD, card_id="probe")
    gone = write_card(root, "TrainFlow", 1, "end", end, 0, 1, "<p>soon deleted</p>")
    (gone / "1.html").unlink()
    choose = task_id(root, "TrainFlow", 1, "choose")
    folder = write_card(root, "TrainFlow", 1, "choose", choose, 0, 0, "<p>fine</p>")
    (folder / "0.html").write_bytes(b"\xff\xfe\x00 not utf-8 \xc3\x28")
    parse = task_id(root, "FailFlow", 1, "parse")
    folder = write_card(root, "FailFlow", 1, "parse", parse, 0, 0, "<p>fine</p>")
    (folder / "index.json").write_text("{not json")
    return root


@pytest.fixture(scope="session")
def datastore(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_datastore(tmp_path_factory.mktemp("ui") / ".headwater")


@pytest.fixture(scope="session")
def server(datastore: Path) -> Iterator[Any]:
    from headwater.ui.server import start_in_thread

    running = start_in_thread(datastore)
    yield running
    running.stop()


def chromium_path() -> str | None:
    """The browser the UI tests drive: $HEADWATER_TEST_CHROMIUM, Debian's, or one on PATH."""
    given = os.environ.get("HEADWATER_TEST_CHROMIUM")
    if given:
        return given if Path(given).exists() else None
    if Path(CHROMIUM).exists():
        return CHROMIUM
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    need_module("playwright")
    executable = chromium_path()
    if executable is None:
        unavailable("no Chromium for the UI tests",
                    "scripts/install-browser (Debian/Ubuntu, as root), or install Chromium or Chrome "
                    "and set HEADWATER_TEST_CHROMIUM=/path/to/its/binary")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
        yield chromium
        chromium.close()


class Tab:
    """A browser page on the server, remembering console errors and dialogs."""

    def __init__(self, page: Any, base: str) -> None:
        self.page, self.base = page, base
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: str) -> Any:
        response = self.page.goto(self.base + path)
        return response

    def mark(self) -> None:
        """Tag the current document; ``marked()`` is false after any reload or navigation."""
        self.page.evaluate("window.__headwater_test_mark = 1")

    def marked(self) -> bool:
        return bool(self.page.evaluate("window.__headwater_test_mark === 1"))


@pytest.fixture
def tab(browser: Any, server: Any) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield Tab(page, server.url)
    context.close()
