"""Components on a blank card, built by a real flow; and the components' HTML on their own."""

from __future__ import annotations

import re

import pytest
from harness import need_module

from headwater.cards import (
    Artifact,
    Error,
    Image,
    Markdown,
    ProgressBar,
    PythonCode,
    Table,
    ValueBox,
    VegaChart,
)
from headwater.cards.components import render_component

from .conftest import FlowDir, assert_offline

FLOW = '''
import pandas as pd


class Broken(Component):
    def render(self):
        raise RuntimeError("this component is broken")


def helper(x):
    return x < 3


class BlankFlow(FlowSpec):
    @card(type="blank", id="report")
    @step
    def start(self):
        df = pd.DataFrame({"model": ["lr", "tree"], "auc": [0.81, 0.87]})
        current.card.append(Markdown("# Results\\n\\n**bold** and <b>not html</b>"))
        current.card.append(Table([[1, "one"], [2, Markdown("*two*")]], headers=["n", "name"]))
        current.card["report"].append(Table.from_dataframe(df))
        current.card.append(ProgressBar(max=10, label="epochs", value=4))
        current.card.append(ValueBox("accuracy", 0.93))
        current.card.append(PythonCode(helper))
        current.card.append(Broken())
        current.card.append(Error(ValueError("shown, not raised")))
        current.card.append(Artifact({"k": [1, 2, 3]}, name="config"))
        self.x = 1
        self.next(self.end)

    @card(type="blank")
    @card(type="blank", id="second")
    @step
    def end(self):
        current.card["missing"].append(Markdown("dropped"))
        current.card["missing"].append(Markdown("dropped again"))
        current.card.append(Markdown("goes to the card without an id"))
        current.card["second"].append(Markdown("goes to *second*"))


if __name__ == "__main__":
    BlankFlow()
'''


@pytest.fixture(scope="module")
def run(module_fd: FlowDir):
    module_fd.write(FLOW)
    done = module_fd.run()
    assert done.returncode == 0, done
    return module_fd, done


def test_blank_card_shows_only_the_components(run):
    fd, _ = run
    html = fd.html("BlankFlow/1/start/1")
    assert_offline(html)
    assert "<h2>Artifacts</h2>" not in html and '<svg class="graph"' not in html
    assert "<h1>Results</h1>" in html and "<strong>bold</strong>" in html
    assert "&lt;b&gt;not html&lt;/b&gt;" in html
    assert "<td>one</td>" in html and "<em>two</em>" in html  # a component inside a table cell
    assert "<th>model</th>" in html and "<td>tree</td>" in html and "<td>0.87</td>" in html
    assert "4 / 10 (40%)" in html and "epochs" in html
    assert '<div class="value">0.93</div>' in html
    assert '<pre class="code">def helper(x):\n    return x &lt; 3\n</pre>' in html
    assert "ValueError: shown, not raised" in html
    assert "&#x27;k&#x27;: [1, 2, 3]" in html and "config" in html


def test_a_component_that_fails_shows_its_error_and_the_task_succeeds(run):
    fd, done = run
    html = fd.html("BlankFlow/1/start/1")
    assert "Broken failed to render: RuntimeError: this component is broken" in html
    assert "Traceback" in html
    assert "<h1>Results</h1>" in html and "epochs" in html  # the other components still show
    assert "Run BlankFlow/1 succeeded" in done.stdout


def test_components_sent_to_an_unknown_id_warn_once_and_are_dropped(run):
    fd, done = run
    output = done.stdout + done.stderr  # the console shows the task's stderr
    assert output.count("current.card['missing']") == 1
    assert "[1/end/2] [@card] warning: current.card['missing']: this step has no @card(id='missing')" in output
    cards = fd.cards("BlankFlow/1/end/2")
    assert [(c.type, c.id) for c in cards] == [("blank", None), ("blank", "second")]
    first, second = (c.get() for c in cards)
    assert "goes to the card without an id" in first and "dropped" not in first
    assert "goes to <em>second</em>" in second and "dropped" not in second


# -- components on their own ---------------------------------------------------------------------

def tiny_png() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"\x00\x00\x00\x00"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_markdown_escapes_html_and_keeps_safe_links():
    html = Markdown("[ok](https://example.org) [bad](javascript:alert(1)) ![x](https://example.org/a.png)\n"
                    "<script>alert(1)</script> `<code>`").render()
    assert '<a href="https://example.org"' in html
    assert "javascript:" not in html.replace("&", "")
    assert "<img" not in html  # an image from the network becomes a link
    assert "&lt;script&gt;" in html and "<code>&lt;code&gt;</code>" in html


def test_markdown_block_elements():
    html = Markdown("# T\n\n- a\n- b\n\n1. one\n2. two\n\n> quoted\n\n```py\nx = 1 < 2\n```\n\n---").render()
    assert "<h1>T</h1>" in html and "<ul><li>a</li><li>b</li></ul>" in html
    assert "<ol><li>one</li><li>two</li></ol>" in html and "<blockquote>" in html
    assert '<code class="language-py">x = 1 &lt; 2</code>' in html and "<hr>" in html


def test_image_from_bytes_and_bad_input():
    html = Image(tiny_png(), label="dot").render()
    assert re.search(r'<img alt="dot" src="data:image/png;base64,[^"]+">', html)
    assert "<figcaption>dot</figcaption>" in html
    assert "not a PNG, JPEG" in render_component(Image(b"not an image"))
    assert "cannot show a int as an image" in Image(3).render()


def test_image_from_pil_image():
    pil = need_module("PIL.Image")
    html = Image.from_pil_image(pil.new("RGB", (4, 4), "red"), label="red").render()
    assert 'src="data:image/png;base64,' in html


def test_image_from_matplotlib_figure():
    need_module("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    html = Image.from_matplotlib(fig).render()
    plt.close(fig)
    assert 'src="data:image/png;base64,' in html


def test_table_from_dataframe_truncates():
    pd = need_module("pandas")
    table = Table.from_dataframe(pd.DataFrame({"a": range(250)}))
    html = table.render()
    assert html.count("<tr>") == 101  # header + 100 rows
    assert "First 100 of 250 rows." in html
    with pytest.raises(TypeError):
        Table.from_dataframe([1, 2])


def test_progress_bar_updates_in_place():
    bar = ProgressBar(max=200, label="rows", unit="rows")
    assert "0 / 200 rows (0%)" in bar.render()
    bar.update(50)
    assert "50 / 200 rows (25%)" in bar.render() and "width:25.0%" in bar.render()


def test_value_box_and_python_code_escape():
    assert "&lt;b&gt;" in ValueBox("<b>", "<i>").render()
    assert PythonCode("if a < b:\n    pass").render() == '<pre class="code">if a &lt; b:\n    pass</pre>'


def test_error_component_with_text_or_exception():
    assert "plain message" in Error("plain message").render()
    try:
        raise KeyError("k")
    except KeyError as exc:
        html = Error(exc).render()
    assert "KeyError" in html and "Traceback" in html


def test_artifact_previews_any_value():
    np = need_module("numpy")
    html = Artifact(np.zeros((2, 5), dtype="int32"), name="zeros").render()
    assert "shape (2, 5)" in html and "dtype int32" in html and "zeros" in html


SPEC = {"data": {"values": [{"fruit": "apple", "count": 3}, {"fruit": "pear", "count": 5}]},
        "mark": "bar", "encoding": {"x": {"field": "fruit", "type": "nominal"},
                                    "y": {"field": "count", "type": "quantitative"}}}


def test_vega_chart_without_a_renderer_shows_its_data(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_vl_convert(name, *args, **kwargs):
        if name == "vl_convert":
            raise ImportError("not installed")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_vl_convert)
    html = VegaChart(SPEC).render()
    assert "<td>apple</td>" in html and "<td>5</td>" in html
    assert "vl-convert-python" in html
    assert '<script type="application/json" class="vega-lite-spec">' in html
    assert "<script src" not in html


def test_vega_chart_drawn_offline_when_vl_convert_is_installed():
    need_module("vl_convert")
    html = VegaChart(SPEC).render()
    assert "<svg" in html and "apple" in html


def test_vega_chart_from_an_altair_like_object():
    class FakeChart:
        def to_dict(self):
            return {"data": {"name": "d1"}, "datasets": {"d1": [{"a": 1}]}, "mark": "point"}

    chart = VegaChart.from_altair_chart(FakeChart())
    assert chart.spec["datasets"]["d1"] == [{"a": 1}]
