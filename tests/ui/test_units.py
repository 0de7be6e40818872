"""The UI's pure parts on plain data: graph layout, log offsets, name checks, escaping, previews."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import need_module

from headwater.client.records import ArtifactRow
from headwater.ui import graph_svg, logs, previews, security
from headwater.ui.html import href, seconds
from headwater.ui.queries import StepStats
from headwater.ui.timeline import tick_label


def step(name: str, kind: str, *nexts: str) -> dict:
    return {"name": name, "type": kind, "next": list(nexts)}


def test_layout_puts_each_step_after_its_parents_and_sets_loops_aside() -> None:
    steps = [step("start", "start", "double"), step("double", "switch", "double", "check"),
             step("check", "switch", "big", "small"), step("big", "linear", "end"),
             step("small", "linear", "end"), step("end", "end")]
    boxes, edges = graph_svg.layout(steps)
    assert [boxes[n].column for n in ("start", "double", "check", "big", "small", "end")] == [0, 1, 2, 3, 3, 4]
    assert ("double", "double", True) in edges
    assert boxes["big"].y != boxes["small"].y


def test_a_foreach_of_any_size_is_one_box() -> None:
    steps = [step("start", "foreach", "train"), step("train", "linear", "join"), step("join", "join", "end"),
             step("end", "end")]
    stats = {"train": StepStats("train", {"succeeded": 1997, "failed": 3})}
    svg = graph_svg.draw(steps, stats, "failed", lambda s: href("F", 1, s))
    assert svg.count('class="node') == 4
    assert "1,997/2,000 ok · 3 failed" in svg


def test_names_are_escaped_in_the_graph() -> None:
    svg = graph_svg.draw([step("a<b>", "start")], {}, "running", lambda s: href("F", 1, s))
    assert "<b>" not in svg and "a&lt;b&gt;" in svg


def test_steps_without_a_recorded_graph_are_drawn_in_a_line() -> None:
    steps = graph_svg.steps_from_graph(None, ["start", "end"])
    assert steps[0]["next"] == ["end"]


def _log(tmp_path: Path, data: bytes):
    """A datastore holding one attempt's stdout with ``data``, and that log's reference."""
    from headwater.datastore.datastore import open_datastore

    ds = open_datastore(tmp_path / "store", create=True)
    ref = ("F", 1, "s", 2, 0, "stdout")
    writer = ds.log_writer(*ref)
    path = Path(writer.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return ds, ref, path


def test_logs_are_read_by_whole_lines_from_an_offset(tmp_path: Path) -> None:
    ds, ref, path = _log(tmp_path, b"1.5 one\n2.5 two\n3.5 thr")
    chunk = logs.read_chunk(ds, ref, None)
    assert chunk.lines == [(1.5, "one"), (2.5, "two")] and chunk.offset == 16
    with open(path, "ab") as f:
        f.write(b"ee\n")
    assert logs.read_chunk(ds, ref, chunk.offset).lines == [(3.5, "three")]
    assert logs.read_chunk(ds, ("F", 1, "s", 3, 0, "stdout"), 0).lines == []


@pytest.mark.parametrize("tail", [20, 22, 23])  # the tail starts mid-line, at a line start, after one
def test_a_long_log_starts_at_a_line_near_its_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  tail: int) -> None:
    monkeypatch.setattr(logs, "TAIL", tail)
    ds, ref, _ = _log(tmp_path, b"".join(f"{i}.0 line {i}\n".encode() for i in range(10)))
    chunk = logs.read_chunk(ds, ref, None)
    assert chunk.skipped > 0
    assert chunk.lines[-1] == (9.0, "line 9") and all(text.startswith("line") for _, text in chunk.lines)
    assert chunk.offset == 110 and chunk.skipped + sum(len(f"{ts} {t}") + 1 for ts, t in chunk.lines) == 110


@pytest.mark.parametrize("text", ["..", ".", "", "a/b", "a%2fb", "x\x00", "1abc", "a b", "a-b", "a.b", "a" * 201])
def test_bad_names_are_refused(text: str) -> None:
    with pytest.raises(security.BadSegment):
        security.name("flow", text)


@pytest.mark.parametrize("text", ["TrainFlow", "_private", "Flüsse", "a" * 200])
def test_python_identifiers_are_names(text: str) -> None:
    assert security.name("flow", text) == text


@pytest.mark.parametrize("text", ["", "-1", "1.0", "１", "1" * 19, "0x1", " 1"])
def test_bad_numbers_are_refused(text: str) -> None:
    with pytest.raises(security.BadSegment):
        security.number("run id", text)


def test_loopback_hosts() -> None:
    assert security.is_loopback("127.0.0.1") and security.is_loopback("::1") and security.is_loopback("localhost")
    assert not security.is_loopback("0.0.0.0") and not security.is_loopback("192.168.1.4")


def test_links_quote_and_escape_their_parts() -> None:
    assert href("F", 1, tag='a"b&c') == "/F/1?tag=a%22b%26c"
    assert href("F", page=None, user="") == "/F"


def test_durations_and_ticks_read_naturally() -> None:
    assert seconds(0.123) == "0.12 s" and seconds(75) == "1m 15s" and seconds(3720) == "1h 02m"
    assert tick_label(0.5) == "0.5 s" and tick_label(90) == "1m 30s" and tick_label(7200) == "2h"


class FakeBlobs:
    def __init__(self, value: object) -> None:
        self.value = value

    def load(self, key: str) -> object:
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


def test_previews_stay_short_and_escaped() -> None:
    row = ArtifactRow("x", "k", "builtins.list", 100)
    cell = previews.inline(FakeBlobs(list(range(100_000))), row)
    assert len(cell) < 200 and "..." in cell
    assert "&lt;b&gt;" in previews.inline(FakeBlobs("<b>"), row)
    big = ArtifactRow("x", "k", "builtins.bytes", previews.INLINE_BYTES + 1)
    assert "too large" in previews.inline(FakeBlobs(b""), big)
    missing = previews.inline(FakeBlobs(ModuleNotFoundError("No module named 'mymodels'")), row)
    assert "cannot be imported" in missing
    assert "&lt;script&gt;" in previews.full(FakeBlobs({"k": "<script>"}), row)


def test_numpy_values_show_shape_and_type() -> None:
    numpy = need_module("numpy")
    row = ArtifactRow("x", "k", "numpy.ndarray", 100)
    assert "ndarray 3×4 float64" in previews.inline(FakeBlobs(numpy.zeros((3, 4))), row)


def test_a_stored_fragment_card_is_framed_inside_the_card_page(tmp_path: Path) -> None:
    from headwater.datastore.cards import CardFolder
    from headwater.ui.cards import RESIZE, html_of

    folder = CardFolder(str(tmp_path / "cards" / "F" / "3" / "train" / "7" / "0"))
    folder.write(0, "mine", None, "<p>just a fragment</p>", final=True)
    folder.write(1, "own", None, "<!doctype html><html><body>own page</body></html>", final=False)
    assert folder.read(folder.list()[0]) == "<p>just a fragment</p>"  # stored as rendered
    shown, why = html_of(folder, 0)
    assert why == "" and shown is not None
    assert shown.startswith("<!DOCTYPE html>") and "<p>just a fragment</p>" in shown
    assert "<title>F/3/train/7 (mine)</title>" in shown and "Content-Security-Policy" in shown
    assert RESIZE % 0 not in shown  # the page's own policy forbids scripts
    own, _ = html_of(folder, 1)
    assert own == "<!doctype html><html><body>own page</body></html>" + RESIZE % 1
