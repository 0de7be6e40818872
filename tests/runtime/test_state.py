"""The run state machine on its own: which tasks a finished task makes ready.

``RunState`` is pure bookkeeping, so these tests drive it with results as a task returns them
(``next``, ``foreach``, ``num_splits``) on a small graph description, without any process.
"""

from __future__ import annotations

from types import SimpleNamespace

from headwater.runtime.state import RunState


class Graph:
    """The two things RunState asks of a graph: the start step, and which steps are joins."""

    def __init__(self, start: str, joins: set[str]) -> None:
        self.start = start
        self.joins = joins

    def __getitem__(self, name: str):
        return SimpleNamespace(is_join=name in self.joins)


def test_a_linear_flow_hands_each_task_to_the_next_step_with_fresh_ids():
    state = RunState(Graph("start", set()))
    start = state.first_task()
    assert (start.task_id, start.step, start.parents) == (1, "start", [(0, "_parameters", 0)])
    (a,) = state.on_success(start, {"next": ["a"]})
    assert (a.task_id, a.step, a.parents, a.frames) == (2, "a", [(1, "start", 0)], [])
    assert state.on_success(a, {"next": []}) == [], "the end step unlocks nothing"


def test_a_foreach_opens_one_task_per_item_and_the_join_waits_for_all_of_them():
    state = RunState(Graph("start", {"join"}))
    start = state.first_task()
    body = state.on_success(start, {"next": ["body"], "foreach": "items", "num_splits": 3,
                                    "values": ["x", "y", "z"]})
    assert [t.frames[-1]["index"] for t in body] == [0, 1, 2]
    assert [t.frames[-1]["value"] for t in body] == ["x", "y", "z"]
    assert all(t.frames[-1]["var"] == "items" and t.frames[-1]["num_splits"] == 3 for t in body)
    # Branches arrive out of order; the join is made once, after the last, with inputs in order.
    assert state.on_success(body[2], {"next": ["join"]}) == []
    assert state.on_success(body[0], {"next": ["join"]}) == []
    (join,) = state.on_success(body[1], {"next": ["join"]})
    assert join.parents == [t.ref for t in body]
    assert join.frames == [], "the join closes the split's frame"


def test_a_retried_branch_arrives_with_the_attempt_that_succeeded():
    state = RunState(Graph("start", {"join"}))
    a, b = state.on_success(state.first_task(), {"next": ["a", "b"]})
    b.attempt = 2  # succeeded on its third attempt
    state.on_success(a, {"next": ["join"]})
    (join,) = state.on_success(b, {"next": ["join"]})
    assert join.parents == [(a.task_id, "a", 0), (b.task_id, "b", 2)]


def test_nested_foreach_joins_pop_one_frame_at_a_time():
    state = RunState(Graph("start", {"inner_join", "outer_join"}))
    outer = state.on_success(state.first_task(), {"next": ["mid"], "foreach": "xs", "num_splits": 2})
    inner = state.on_success(outer[0], {"next": ["leaf"], "foreach": "ys", "num_splits": 2})
    assert [len(t.frames) for t in inner] == [2, 2]
    state.on_success(inner[0], {"next": ["inner_join"]})
    (inner_join,) = state.on_success(inner[1], {"next": ["inner_join"]})
    assert [f["var"] for f in inner_join.frames] == ["xs"], "only the inner split is closed"
    other = state.on_success(outer[1], {"next": ["leaf"], "foreach": "ys", "num_splits": 1})
    (other_join,) = state.on_success(other[0], {"next": ["inner_join"]})
    (after_a,) = state.on_success(inner_join, {"next": ["after"]})
    (after_b,) = state.on_success(other_join, {"next": ["after"]})
    assert state.on_success(after_a, {"next": ["outer_join"]}) == []
    (outer_join,) = state.on_success(after_b, {"next": ["outer_join"]})
    assert outer_join.frames == []
    assert [p[0] for p in outer_join.parents] == [after_a.task_id, after_b.task_id]


def test_task_ids_are_never_reused_across_splits():
    state = RunState(Graph("start", {"join"}))
    seen = set()
    todo = [state.first_task()]
    results = {"start": {"next": ["work"], "foreach": "xs", "num_splits": 50},
               "work": {"next": ["join"]}, "join": {"next": []}}
    while todo:
        task = todo.pop()
        assert task.task_id not in seen
        seen.add(task.task_id)
        todo.extend(state.on_success(task, results[task.step]))
    assert len(seen) == 52
