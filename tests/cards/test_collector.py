"""``current.card`` on plain data: which card receives components, and warnings that never raise."""

from __future__ import annotations

import subprocess
import sys

from headwater.cards import Markdown
from headwater.cards.collector import CardCollector, CardSlot
from headwater.cards.graph_svg import graph_svg


def collector(*slots: CardSlot) -> CardCollector:
    return CardCollector(list(slots), lambda slot, final: None)


def slot(index: int, card_id: str | None = None, editable: bool = True, kind: str = "blank") -> CardSlot:
    return CardSlot(index, kind, card_id, editable=editable, live=editable, owner=f"deco{index}")


def test_the_only_editable_card_receives_append_even_with_an_id():
    only = slot(0, "report")
    c = collector(slot(1, editable=False, kind="custom"), only)
    c.append(Markdown("a"))
    c.extend([Markdown("b")])
    assert len(only.components) == 2 and len(c.components) == 2
    c.clear()
    assert only.components == []


def test_the_editable_card_without_an_id_is_the_default():
    plain, named = slot(0), slot(1, "named")
    c = collector(plain, named)
    c.append("x")
    c["named"].append("y")
    assert plain.components == ["x"] and named.components == ["y"]
    c["named"] = ["z1", "z2"]
    assert named.components == ["z1", "z2"] and list(c["named"]) == ["z1", "z2"] and len(c["named"]) == 2


def test_append_that_cannot_choose_a_card_warns_once(capsys):
    a, b = slot(0), slot(1)
    c = collector(a, b)
    c.append("x")
    c.append("y")
    err = capsys.readouterr().err
    assert err.count("[@card] warning") == 1 and "give each @card an id=" in err
    assert a.components == [] and b.components == []


def test_append_to_a_card_that_takes_no_components_warns(capsys):
    custom = slot(0, "mine", editable=False, kind="custom")
    c = collector(custom)
    c.append("x")
    c["mine"].append("y")
    err = capsys.readouterr().err
    assert "no card of this step shows components" in err
    assert "a card of type 'custom' does not show appended components" in err
    assert custom.components == []


def test_from_headwater_import_card_then_current_gives_the_current_object():
    code = ("from headwater import card, current\n"
            "from headwater.cards import Markdown\n"
            "assert type(current).__name__ == 'Current', type(current)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_graph_layout_layers_splits_and_loops():
    graph = {"name": "G", "steps": [
        {"name": "start", "type": "start", "next": ["a", "b"]},
        {"name": "a", "type": "linear", "next": ["join"]},
        {"name": "b", "type": "linear", "next": ["b", "join"], "condition": "again"},
        {"name": "join", "type": "join", "next": ["end"]},
        {"name": "end", "type": "end", "next": []},
    ]}
    svg = graph_svg(graph, "b")
    assert svg.count("<g class=\"step") == 5 and svg.count('class="step current"') == 1
    assert '<g class="step current" data-step="b" aria-current="step">' in svg
    assert "switch on again" in svg
    assert svg.count('class="edge"') == 6  # start->a, start->b, a->join, b->b, b->join, join->end

    def y(name: str) -> float:
        part = svg.split(f'data-step="{name}"')[1]
        return float(part.split('y="')[1].split('"')[0])

    assert y("start") < y("a") == y("b") < y("join") < y("end")
    assert graph_svg({"steps": []}) == ""


def test_customize_chooses_the_card_append_goes_to_among_several_editable_ones():
    plain, chosen = slot(0), slot(1, "chosen")
    chosen.customize = True
    c = collector(plain, chosen)
    c.append("x")
    assert chosen.components == ["x"] and plain.components == []


def test_two_cards_with_customize_let_none_win():
    a, b = slot(0, "a"), slot(1, "b")
    a.customize = b.customize = True
    c = collector(a, b)
    c.append("x")
    assert a.components == [] and b.components == []


def test_each_card_keeps_its_own_refresh_interval():
    writes: list[int] = []
    slow = CardSlot(0, "blank", "slow", editable=True, live=True, owner="d0", interval=3600)
    fast = CardSlot(1, "blank", "fast", editable=True, live=True, owner="d1", interval=0)
    c = CardCollector([slow, fast], lambda s, final: writes.append(s.index))
    c.refresh()
    c.refresh()
    c.refresh()
    # The slow card is rendered once (its next turn is an hour away), the fast one every time.
    assert writes.count(0) == 1 and writes.count(1) == 3
    c.finish("d0")
    c.finish("d1")


def test_an_unsaved_failing_live_card_is_reported_once_then_at_the_end(capsys):
    from headwater.plugins.card import _report_unsaved

    live = CardSlot(0, "blank", "live", editable=True, live=True, owner="d0")
    for _ in range(3):
        _report_unsaved("F/1/start/1", live, False, "RuntimeError: broken")
    _report_unsaved("F/1/start/1", live, True, "RuntimeError: broken")
    err = capsys.readouterr().err
    assert err.count("its live update was not saved (save_errors=False)") == 1
    assert err.count("it was not saved (save_errors=False)") == 1


def test_get_returns_the_component_lists_of_the_cards_of_a_type():
    first, second, other = slot(0, "a"), slot(1, "b"), slot(2, kind="custom", editable=False)
    c = collector(first, second, other)
    blank = c.get(type="blank")
    assert len(blank) == 2
    blank[1].append("to b")
    assert second.components == ["to b"] and first.components == []
    assert [len(x) for x in c.get(type="blank", id="a")] == [0]
    assert c.get(type="nonexistingtype") == []
    c.get(type="custom")[0].append("dropped")  # not editable: warns, never raises
    assert other.components == []
