"""Pages that follow a running run without being reloaded: new runs, log lines, cards, status.

These use their own empty datastore and server, so the runs started here do not change what
the other modules see.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import Tab, query, run_flow, start_flow


@pytest.fixture(scope="module")
def live_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("live") / ".headwater"
    root.mkdir()
    return root


@pytest.fixture(scope="module")
def live_server(live_root: Path) -> Iterator[Any]:
    from headwater.ui.server import start_in_thread

    running = start_in_thread(live_root)
    yield running
    running.stop()


@pytest.fixture
def live_tab(browser: Any, live_server: Any) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield Tab(page, live_server.url)
    context.close()


def wait_for(condition: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def running_start_task(root: Path, run: int) -> int:
    """Wait until the run's start task has printed its first line; return its id."""
    def printed() -> int | None:
        if not (root / "metadata.db").exists():
            return None
        rows = query(root, "SELECT task_id FROM tasks WHERE flow = 'LiveFlow' AND run_number = ?"
                     " AND step = 'start'", (run,))
        if not rows:
            return None
        log = root / "logs" / "LiveFlow" / str(run) / "start" / str(rows[0][0]) / "0.stdout"
        return rows[0][0] if log.exists() and "first line" in log.read_text() else None
    return wait_for(printed)


def test_new_runs_and_log_lines_appear_without_reloading(browser: Any, live_tab: Tab, live_root: Path) -> None:
    index = live_tab
    index.open("/")
    expect(index.page.locator(".emptystate")).to_contain_text("No runs yet")
    index.mark()
    proc = start_flow(live_root, "live_flow", "--pause", "5")
    try:
        # the flow list picks up the new flow and run by itself
        expect(index.page.locator("table.flows tbody tr").filter(has_text="LiveFlow")).to_have_count(1, timeout=15_000)
        assert index.marked(), "the flows page was reloaded"
        task = running_start_task(live_root, 1)
        page = index.page.context.new_page()
        follow = Tab(page, index.base)
        follow.open(f"/LiveFlow/1/start/{task}")
        stdout = page.locator("pre.log").first
        expect(stdout).to_contain_text("first line")
        expect(page.locator("#about .badge")).to_have_text("running")
        assert "second line" not in stdout.inner_text()
        follow.mark()
        # printed about five seconds after the first line, shown within about a second
        expect(stdout).to_contain_text("second line", timeout=12_000)
        expect(page.locator("#about .badge")).to_have_text("succeeded", timeout=10_000)
        assert follow.marked(), "the task page was reloaded"
        assert not follow.errors
        # the run page of a finished run
        follow.open("/LiveFlow/1")
        expect(page.locator(".summary .badge")).to_have_text("succeeded", timeout=10_000)
    finally:
        proc.wait(timeout=30)


def test_run_page_follows_a_running_run(live_tab: Tab, live_root: Path) -> None:
    run_flow(live_root, "live_flow", "--pause", "0")  # make sure run 1 exists whatever ran before
    proc = start_flow(live_root, "live_flow", "--pause", "3")
    try:
        number = wait_for(lambda: query(live_root, "SELECT MAX(run_number) FROM runs WHERE flow = 'LiveFlow'"
                                                    " AND status = 'running'")[0][0])
        live_tab.open(f"/LiveFlow/{number}")
        expect(live_tab.page.locator(".summary .badge")).to_have_text("running")
        live_tab.mark()
        expect(live_tab.page.locator(".summary .badge")).to_have_text("succeeded", timeout=15_000)
        expect(live_tab.page.locator('svg.graph a.node[data-step="end"]')).to_have_class("node s-succeeded")
        expect(live_tab.page.locator("svg.timeline a.lane")).to_have_count(2)
        assert live_tab.marked()
        live_tab.open("/LiveFlow")
        expect(live_tab.page.locator("table.runs tbody tr").first.locator(".badge")).to_have_text("succeeded")
    finally:
        proc.wait(timeout=30)


def test_a_live_card_is_redrawn_while_its_task_runs(live_tab: Tab, live_root: Path) -> None:
    proc = start_flow(live_root, "card_flow")
    try:
        def first_version() -> int | None:
            rows = query(live_root, "SELECT task_id FROM tasks WHERE flow = 'CardFlow' AND step = 'start'"
                         " AND run_number = 1") if (live_root / "metadata.db").exists() else []
            if rows and (live_root / "cards" / "CardFlow" / "1" / "start" / str(rows[0][0]) / "0" / "0.html").exists():
                return rows[0][0]
            return None

        task = wait_for(first_version)
        live_tab.open(f"/CardFlow/1/start/{task}")
        frame = live_tab.page.frame_locator("iframe.cardframe")
        expect(frame.locator("body")).to_contain_text("stage one")
        expect(live_tab.page.locator("#cards h3")).to_contain_text("updating")
        assert live_tab.page.locator("iframe.cardframe").get_attribute("sandbox") == "allow-scripts"
        live_tab.mark()
        expect(frame.locator("body")).to_contain_text("stage two", timeout=10_000)
        expect(live_tab.page.locator("#cards h3")).not_to_contain_text("updating", timeout=10_000)
        assert live_tab.marked(), "the task page was reloaded"
    finally:
        proc.wait(timeout=30)
    # the default card of the end step, made when the task ended
    end = query(live_root, "SELECT task_id FROM tasks WHERE flow = 'CardFlow' AND step = 'end'")[0][0]
    live_tab.open(f"/CardFlow/1/end/{end}")
    expect(live_tab.page.locator("iframe.cardframe")).to_have_count(1)
    expect(live_tab.page.frame_locator("iframe.cardframe").locator("body")).to_contain_text("greeting")
