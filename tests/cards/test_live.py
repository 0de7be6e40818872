"""Live cards: ``current.card.refresh()`` stores a card while the step runs, at most once a second."""

from __future__ import annotations

import json
import time
from pathlib import Path

from headwater.cards.collector import CardCollector, CardSlot

from .conftest import FlowDir, assert_offline

FLOW = '''
import os
import time


class LiveFlow(FlowSpec):
    @card(type="blank", id="progress")
    @card
    @step
    def start(self):
        bar = ProgressBar(max=10, label="work")
        current.card["progress"].append(bar)
        for i in range(1, 6):
            bar.update(i)
            current.card.refresh()  # the first is written at once, the rest within a second
        deadline = time.time() + 60
        while not os.path.exists({release!r}) and time.time() < deadline:
            time.sleep(0.05)
        bar.update(10)
        self.done = True
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LiveFlow()
'''


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _folder(fd: FlowDir):
    """The cards of LiveFlow's start task (run 1, task 1, attempt 0), wherever they are kept."""
    from headwater.datastore.datastore import open_datastore

    root = fd.mode_env.get("HEADWATER_DATASTORE_SYSROOT_S3") or str(fd.home)
    if not root.startswith("s3://") and not fd.home.exists():
        return None
    return open_datastore(root).cards("LiveFlow", 1, "start", 1, 0)


def read_index(fd: FlowDir) -> list[dict]:
    folder = _folder(fd)
    try:
        return json.loads(folder.index_text()) if folder is not None else []
    except OSError:
        return []


def card_text(fd: FlowDir, index: int) -> str:
    folder = _folder(fd)
    info = next((c for c in (folder.list() if folder is not None else []) if c.index == index), None)
    try:
        return folder.read(info) if info is not None else ""
    except OSError:
        return ""


def test_refresh_writes_live_cards_then_the_final_one(fd: FlowDir):
    release = fd.path / "release"
    fd.write(FLOW.replace("{release!r}", repr(str(release))))
    proc = fd.popen("run")
    try:
        # The last update before the step went quiet shows within about a second.
        # Cards are numbered as written, top to bottom: the blank one first.
        wait_for(lambda: "5 / 10 (50%)" in card_text(fd, 0), 30, "the live card to show 5 / 10")
        entries = {e["index"]: e for e in read_index(fd)}
        assert entries[0]["final"] is False and entries[0]["type"] == "blank" and entries[0]["id"] == "progress"
        live_blank = card_text(fd, 0)
        assert 'data-card-state="live"' in live_blank
        assert_offline(live_blank)
        # the default card is live too: running, artifacts still to come
        assert entries[1]["final"] is False and entries[1]["type"] == "default"
        live_default = card_text(fd, 1)
        assert '<span class="badge running">running</span>' in live_default
        assert "Artifacts are shown when the task finishes." in live_default
        release.write_text("go")
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out + err
    entries = read_index(fd)
    assert [e["final"] for e in entries] == [True, True]
    assert "10 / 10 (100%)" in fd.html("LiveFlow/1/start/1", id="progress")
    final_default = fd.html("LiveFlow/1/start/1", type="default")
    assert 'data-card-state="final"' in final_default and '<td class="name">done</td>' in final_default


def test_refresh_is_rate_limited_and_the_last_request_is_kept():
    writes: list[tuple[int, bool, float]] = []
    slot = CardSlot(0, "blank", None, editable=True, live=True, owner="deco")
    collector = CardCollector([slot], lambda s, final: writes.append((s.index, final, time.monotonic())))
    for _ in range(50):
        collector.refresh()
    assert len(writes) == 1  # the first at once; the others wait for the second to pass
    wait_for(lambda: len(writes) == 2, 5, "the delayed refresh")
    assert writes[1][2] - writes[0][2] >= 0.95
    time.sleep(1.2)
    assert len(writes) == 2  # nothing more was asked for
    collector.refresh()
    collector.finish("deco")  # the final render cancels what is pending
    assert writes[-1][1] is True and [w[1] for w in writes].count(True) == 1
    time.sleep(1.2)
    assert writes[-1][1] is True
    collector.refresh()  # after the end, refresh does nothing
    assert writes[-1][1] is True


def test_cards_that_are_not_live_are_not_refreshed():
    writes: list[int] = []
    slot = CardSlot(0, "custom", None, editable=False, live=False, owner="deco")
    collector = CardCollector([slot], lambda s, final: writes.append(s.index))
    collector.refresh()
    assert writes == []


def test_index_is_written_atomically(tmp_path: Path):
    from headwater.datastore.cards import CardFolder

    folder = CardFolder(str(tmp_path))
    folder.write(1, "blank", "b", "<p>1</p>", final=False)
    folder.write(0, "default", None, "<p>0</p>", final=True)
    assert [(c.index, c.final) for c in folder.list()] == [(0, True), (1, False)]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
