"""Bad input: unknown names suggest close ones; malformed pathspecs say the expected form."""

from __future__ import annotations

import pytest

from headwater.client import (
    ArtifactNotFound,
    ClientError,
    DataArtifact,
    Flow,
    InvalidPathspec,
    Metaflow,
    ObjectNotFound,
    Run,
    Step,
    Task,
)
from headwater.client.stores import clear_cache
from headwater.exceptions import DatastoreError


def test_unknown_flow_suggests_close_names(sample) -> None:
    with pytest.raises(ObjectNotFound, match=r"no flow 'TrainFlo'.*Did you mean: TrainFlow"):
        Flow("TrainFlo")
    with pytest.raises(ObjectNotFound, match="OtherFlow, TrainFlow"):
        Run("Zzz/1")


def test_unknown_run_lists_latest(sample) -> None:
    with pytest.raises(ObjectNotFound, match=r"TrainFlow has no run '99'.*latest runs are 4, 3, 2, 1"):
        Run("TrainFlow/99")
    with pytest.raises(KeyError):
        Flow("TrainFlow")["99"]


def test_unknown_step_task_artifact(sample) -> None:
    run = Run("TrainFlow/1")
    with pytest.raises(KeyError, match=r"has no step 'trian'.*Did you mean: train"):
        run["trian"]
    with pytest.raises(ObjectNotFound, match="has no step 'nope'"):
        Step("TrainFlow/1/nope")
    with pytest.raises(ObjectNotFound, match=r"no task '9'.*Choose from: 2, 3, 4"):
        run["train"]["9"]
    with pytest.raises(ObjectNotFound, match=r"no task '9'"):
        Task("TrainFlow/1/train/9")
    with pytest.raises(ObjectNotFound, match="has no step 'nope'"):
        Task("TrainFlow/1/nope/9")
    with pytest.raises(ObjectNotFound, match="belongs to step 'train'.*TrainFlow/1/train/2"):
        Task("TrainFlow/1/end/2")
    task = Task("TrainFlow/1/train/2")
    with pytest.raises(KeyError, match=r"no artifact 'scroe'.*Did you mean: score"):
        task["scroe"]
    with pytest.raises(AttributeError, match=r"no artifact 'scroe'.*Did you mean: score"):
        task.data.scroe
    with pytest.raises(ArtifactNotFound):
        task.artifacts.scroe
    with pytest.raises(ObjectNotFound, match="no artifact 'nope'"):
        DataArtifact("TrainFlow/1/train/2/nope")
    with pytest.raises(ObjectNotFound, match=r"no attempt '5'.*attempts are: 0, 1"):
        Task("TrainFlow/1/train/3", attempt=5)


@pytest.mark.parametrize("cls, pathspec, message", [
    (Run, "A/B/C/D/E", "FLOW/RUN"),
    (Run, "", "empty pathspec"),
    (Run, "TrainFlow", "FLOW/RUN, e.g. 'TrainFlow/12'"),
    (Run, "TrainFlow/abc", "run id 'abc' is not a number"),
    (Run, "TrainFlow/", "FLOW/RUN"),
    (Run, 12, "not int"),
    (Flow, "TrainFlow/1", "FLOW, e.g. 'TrainFlow'"),
    (Step, "TrainFlow/1", "FLOW/RUN/STEP"),
    (Step, "TrainFlow/x/train", "run id 'x'"),
    (Task, "TrainFlow/1/train/x", "task id 'x' is not a number"),
    (Task, "TrainFlow//train/1", "FLOW/RUN/STEP/TASK"),
    (DataArtifact, "TrainFlow/1/train/2", "FLOW/RUN/STEP/TASK/ARTIFACT"),
])
def test_malformed_pathspecs(sample, cls, pathspec, message) -> None:
    with pytest.raises(InvalidPathspec, match=message) as info:
        cls(pathspec)
    assert isinstance(info.value, ClientError) and isinstance(info.value, ValueError)


def test_bad_attempt_and_run_key(sample) -> None:
    with pytest.raises(InvalidPathspec, match="attempt"):
        Task("TrainFlow/1/train/3", attempt=-1)
    with pytest.raises(InvalidPathspec, match="attempt"):
        Task("TrainFlow/1/train/3", attempt="0")  # type: ignore[arg-type]
    with pytest.raises(InvalidPathspec, match="run id"):
        Flow("TrainFlow")["latest"]


def test_missing_datastore(tmp_path, monkeypatch) -> None:
    clear_cache()
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(DatastoreError, match="does not exist"):
        Flow("TrainFlow")
    monkeypatch.delenv("HEADWATER_HOME")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatastoreError, match="no .headwater directory"):
        Metaflow()


def test_empty_datastore(tmp_path, monkeypatch) -> None:
    clear_cache()
    (tmp_path / ".headwater").mkdir()
    monkeypatch.delenv("HEADWATER_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert Metaflow().flows == []
    with pytest.raises(ObjectNotFound, match="no flow 'TrainFlow'"):
        Flow("TrainFlow")


def test_root_follows_env_and_cwd(sample, tmp_path, monkeypatch) -> None:
    Builder = type(sample)
    assert Flow("TrainFlow").latest_run.id == "4"
    other = tmp_path / "elsewhere" / ".headwater"
    other.mkdir(parents=True)
    b = Builder(other)
    b.run("ElsewhereFlow")
    b.close()
    monkeypatch.setenv("HEADWATER_HOME", str(other))
    assert [f.id for f in Metaflow()] == ["ElsewhereFlow"]
    monkeypatch.delenv("HEADWATER_HOME")
    monkeypatch.chdir(tmp_path)  # the sample's .headwater is found from the working directory
    assert [f.id for f in Metaflow()] == ["TrainFlow"]
    (tmp_path / "elsewhere" / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere" / "sub")  # ...and from a subdirectory, upwards
    assert [f.id for f in Metaflow()] == ["ElsewhereFlow"]
