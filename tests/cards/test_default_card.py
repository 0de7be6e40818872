"""The default card: a task's facts, parameters, artifacts with previews, and the graph."""

from __future__ import annotations

import re

import pytest
from harness import need_module

from .conftest import FlowDir, assert_offline

FLOW = '''
import struct
import zlib

import numpy as np
import pandas as pd

try:
    from PIL import Image as PILImage
except ImportError:  # the test that needs it is skipped
    PILImage = None


def tiny_png():
    raw = b"".join(b"\\x00" + b"\\xff\\x00\\x00" * 3 for _ in range(3))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 3, 3, 8, 2, 0, 0, 0)
    return b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


class DefaultFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5, help="learning rate")

    @card
    @step
    def start(self):
        self.cities = pd.DataFrame({"city": ["Oslo", "Lima", "Pune"] * 10, "temp": list(range(30))})
        self.grid = np.arange(12.0).reshape(3, 4) - 2
        self.picture = tiny_png()
        self.long_text = "abc" * 2000
        self.html_text = "<script>alert('x')</script>"
        self.shards = [1, 2]
        if PILImage is not None:
            self.photo = PILImage.new("RGB", (8, 6), "navy")
        current.card.append(Markdown("## Notes for *start*"))
        self.next(self.train, foreach="shards")

    @card
    @step
    def train(self):
        self.score = self.input * self.alpha
        self.next(self.join)

    @step
    def join(self, inputs):
        self.best = max(i.score for i in inputs)
        self.next(self.end)

    @card
    @step
    def end(self):
        raise ValueError("bad <end>")


if __name__ == "__main__":
    DefaultFlow()
'''


@pytest.fixture(scope="module")
def run(module_fd: FlowDir) -> tuple[FlowDir, int]:
    module_fd.write(FLOW)
    done = module_fd.run("--alpha", "0.25")
    assert done.returncode == 1, done  # the end step fails on purpose
    return module_fd, done.run_id("DefaultFlow")


def start_html(run: tuple[FlowDir, int]) -> str:
    fd, run_id = run
    return fd.html(f"DefaultFlow/{run_id}/start/1")


def test_header_shows_the_task_its_status_and_timings(run):
    html = start_html(run)
    assert "DefaultFlow/1/start/1" in html
    assert '<span class="badge succeeded">succeeded</span>' in html
    for label in ("started", "finished", "duration", "attempt"):
        assert f"<th>{label}</th>" in html


def test_parameters_are_listed_with_their_values(run):
    html = start_html(run)
    section = html.split("<h2>Parameters</h2>")[1].split("<h2>")[0]
    assert "alpha" in section and "0.25" in section


def test_artifacts_have_type_aware_previews(run):
    html = start_html(run)
    artifacts = html.split("<h2>Artifacts</h2>")[1].split("<h2>")[0]
    for name in ("cities", "grid", "picture", "long_text", "html_text", "shards"):
        assert f'<td class="name">{name}</td>' in artifacts
    # DataFrame: its shape, then the first rows as a table
    assert "DataFrame: 30 rows × 2 columns" in artifacts
    assert "<td>Oslo</td>" in artifacts and "<th>city</th>" in artifacts
    # NumPy array: shape, dtype, min and max
    assert "shape (3, 4)" in artifacts and "dtype float64" in artifacts
    assert "min -2.0" in artifacts and "max 9.0" in artifacts
    # PNG bytes are shown as an image
    assert re.search(r'<img alt="picture" src="data:image/png;base64,[A-Za-z0-9+/=]+">', artifacts)
    # long values are cut, and HTML in values is escaped
    assert "more characters" in artifacts and "abc" * 400 not in artifacts
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in artifacts
    assert "<script>alert" not in html


def test_pil_image_artifacts_are_shown_as_images(run):
    need_module("PIL")
    artifacts = start_html(run).split("<h2>Artifacts</h2>")[1]
    assert '<td class="name">photo</td>' in artifacts
    assert re.search(r'<img alt="photo" src="data:image/png;base64,[A-Za-z0-9+/=]+">', artifacts)


def test_parameters_are_not_repeated_as_artifacts(run):
    artifacts = start_html(run).split("<h2>Artifacts</h2>")[1]
    assert '<td class="name">alpha</td>' not in artifacts


def test_graph_is_an_inline_svg_with_this_step_highlighted(run):
    fd, run_id = run
    html = start_html(run)
    svg = html.split('<svg class="graph"')[1].split("</svg>")[0]
    for name in ("start", "train", "join", "end"):
        assert f'data-step="{name}"' in svg
    assert '<g class="step current" data-step="start" aria-current="step">' in svg
    assert svg.count('class="step current"') == 1
    assert "foreach shards" in svg
    train = fd.cards(f"DefaultFlow/{run_id}/train/2")[0].get()
    assert '<g class="step current" data-step="train"' in train


def test_appended_components_appear_on_the_default_card(run):
    assert "<h2>Notes for <em>start</em></h2>" in start_html(run)


def test_every_foreach_task_has_its_own_card(run):
    fd, run_id = run
    htmls = [fd.html(f"DefaultFlow/{run_id}/train/{t}") for t in (2, 3)]
    assert "foreach index" in htmls[0]
    assert "<code>0.25</code>" in htmls[0] and "<code>0.5</code>" in htmls[1]


def test_a_failed_task_gets_a_card_with_its_exception(run):
    fd, run_id = run
    html = fd.html(f"DefaultFlow/{run_id}/end/5")
    assert '<span class="badge failed">failed</span>' in html
    assert "ValueError: bad &lt;end&gt;" in html
    assert "Traceback" in html and "raise ValueError" in html


def test_a_step_without_card_has_none(run):
    fd, run_id = run
    assert fd.cards(f"DefaultFlow/{run_id}/join/4") == []


def test_cards_are_self_contained(run):
    fd, run_id = run
    with fd.client() as hw:
        tasks = [t for step in hw.Run(f"DefaultFlow/{run_id}") for t in step]
        pages = [card.get() for t in tasks for card in fd.cards(t.pathspec)]
    assert len(pages) == 4  # start, two train tasks, end
    for page in pages:
        assert_offline(page)


def test_get_cards_takes_a_client_task_and_filters(run, monkeypatch):
    import headwater
    from headwater.cards import get_cards

    fd, run_id = run
    monkeypatch.setenv("HEADWATER_HOME", str(fd.home))
    headwater.namespace(None)
    try:
        task = headwater.Task(f"DefaultFlow/{run_id}/start/1")
        cards = get_cards(task)
        assert [(c.index, c.type, c.id, c.final) for c in cards] == [(0, "default", None, True)]
        assert get_cards(task, type="blank") == [] and get_cards(task, id="nope") == []
        assert cards[0].path.endswith("0.html") and cards[0].get().startswith("<!DOCTYPE html>")
    finally:
        headwater.default_namespace()


def test_notebook_view_is_an_escaped_iframe(run):
    fd, run_id = run
    card = fd.cards(f"DefaultFlow/{run_id}/start/1")[0]
    shown = card._repr_html_()
    assert shown.startswith("<iframe") and 'srcdoc="&lt;!DOCTYPE html&gt;' in shown
    assert "<html" not in shown
