"""Namespaces: default from the user, switching, and mismatch errors that say how to switch."""

from __future__ import annotations

import pytest

from headwater.client import (
    ClientError,
    Flow,
    NamespaceMismatch,
    Run,
    Step,
    Task,
    default_namespace,
    get_namespace,
    namespace,
)
from headwater.client.artifact import DataArtifact


def test_default_namespace_follows_the_user(datastore, monkeypatch) -> None:
    assert get_namespace() == "user:ana"
    monkeypatch.setenv("HEADWATER_USER", "carla")
    assert get_namespace() == "user:carla"
    monkeypatch.delenv("HEADWATER_USER")
    monkeypatch.setenv("USER", "dora")
    assert default_namespace() == "user:dora"


def test_switching(datastore) -> None:
    assert namespace("user:bob") == "user:bob" == get_namespace()
    assert namespace(None) is None and get_namespace() is None
    assert default_namespace() == "user:ana" == get_namespace()
    for bad in ("", "  ", 12):
        with pytest.raises(ValueError, match="namespace"):
            namespace(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("make", [
    lambda: Run("TrainFlow/2"),
    lambda: Flow("TrainFlow")["2"],
    lambda: Step("TrainFlow/2/end"),
    lambda: Task("TrainFlow/2/end/2"),
    lambda: DataArtifact("TrainFlow/2/start/1/x"),
])
def test_objects_outside_the_namespace_are_refused(sample, make) -> None:
    with pytest.raises(NamespaceMismatch) as info:
        make()
    message = str(info.value)
    assert "TrainFlow/2" in message and "'user:ana'" in message
    assert "namespace('user:bob')" in message and "namespace(None)" in message
    assert isinstance(info.value, ClientError)
    namespace(None)
    make()
    namespace("user:bob")
    make()


def test_flow_objects_are_not_namespaced(sample) -> None:
    other = Flow("OtherFlow")  # only bob's runs: the flow opens, its runs are filtered
    assert list(other) == [] and other.latest_run is None
    namespace("user:bob")
    assert [r.id for r in other] == ["1"]


def test_namespace_check_can_be_skipped(sample) -> None:
    assert Run("TrainFlow/2", _namespace_check=False).status == "failed"
    assert Task("TrainFlow/2/end/2", _namespace_check=False).exception.type == "KeyError"


def test_a_user_tag_is_a_namespace(sample) -> None:
    namespace("experiment")
    assert [r.id for r in Flow("TrainFlow")] == ["1"]
    assert Run("TrainFlow/1").successful
    with pytest.raises(NamespaceMismatch):
        Run("TrainFlow/4")


def test_children_of_an_object_are_not_rechecked(sample) -> None:
    run = Run("TrainFlow/1")
    namespace("user:bob")
    assert run["end"].task.data.best == 1.0
