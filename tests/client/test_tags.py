"""Tag changes: user tags only, validated, atomic, visible to every reader."""

from __future__ import annotations

import pytest

from headwater.client import ClientError, Flow, Run, TagError


def test_add_remove_replace(sample) -> None:
    run = Run("TrainFlow/4")
    run.add_tag("baseline")
    run.add_tags(["a", "b"])
    run.add_tag("a")  # already there: nothing happens
    assert run.user_tags == {"baseline", "a", "b"}
    assert Run("TrainFlow/4").user_tags == {"baseline", "a", "b"}
    assert [r.id for r in Flow("TrainFlow").runs("baseline")] == ["4"]
    run.remove_tag("b")
    run.remove_tag("never-there")  # ignored
    assert run.user_tags == {"baseline", "a"}
    run.replace_tag("a", "c")
    assert run.user_tags == {"baseline", "c"}
    run.replace_tags(["baseline", "c"], ["d", "e"])
    assert run.user_tags == {"d", "e"}
    run.remove_tags(["d", "e"])
    assert run.user_tags == set()
    assert run.system_tags == {"user:ana", "runtime:local"}
    run.replace_tag("x", "x")
    assert run.user_tags == {"x"}


def test_system_tags_cannot_be_removed_or_replaced(sample) -> None:
    run = Run("TrainFlow/4")
    with pytest.raises(TagError, match="system tag"):
        run.remove_tag("user:ana")
    with pytest.raises(TagError, match="system tags"):
        run.remove_tags(["runtime:local", "user:ana"])
    with pytest.raises(TagError, match="system tag"):
        run.replace_tag("user:ana", "user:eve")
    assert run.system_tags == {"user:ana", "runtime:local"}
    assert "user:eve" not in run.tags  # nothing changed: replace is all or nothing


@pytest.mark.parametrize("bad, message", [
    ("", "empty"),
    ("   ", "empty"),
    ("x" * 501, "limit is 500"),
    ("bad\ttag", "control characters"),
    ("bad\x7ftag", "control characters"),
    (12, "must be a string"),
    (None, "must be a string"),
])
def test_invalid_tags_are_refused(sample, bad, message) -> None:
    run = Run("TrainFlow/4")
    with pytest.raises(TagError, match=message):
        run.add_tag(bad)
    with pytest.raises(TagError, match=message):
        run.replace_tags(["ok"], ["fine", bad])
    assert run.user_tags == set()
    assert issubclass(TagError, ClientError) and issubclass(TagError, ValueError)


def test_longest_tag_and_unicode_are_fine(sample) -> None:
    run = Run("TrainFlow/4")
    run.add_tags(["x" * 500, "café ☕"])
    assert run.user_tags == {"x" * 500, "café ☕"}


def test_a_single_string_is_not_a_list_of_tags(sample) -> None:
    with pytest.raises(TagError, match="single string"):
        Run("TrainFlow/4").add_tags("abc")


def test_replace_tags_with_nothing_to_replace_is_refused(sample) -> None:
    run = Run("TrainFlow/4")
    with pytest.raises(TagError, match="at least one tag"):
        run.replace_tags([], [])
    run.replace_tags([], ["added"])  # one side empty is fine
    assert run.user_tags == {"added"}
