"""Projects and datastores in directories whose names need care: spaces, non-ASCII, URI
characters. Users name folders like that; every command must work from them."""

from __future__ import annotations

import pytest

from .conftest import FlowDir

FLOW = """
class PathFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.double = self.input * 2
        print("body", self.input)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.doubles = [i.double for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    PathFlow()
"""


def run_in(tmp_path, name):
    folder = tmp_path / name
    folder.mkdir()
    fd = FlowDir(folder)
    fd.write(FLOW)
    done = fd.run()
    assert done.returncode == 0, done
    assert fd.value("PathFlow", 1, "join", "doubles") == [2, 4]
    logs = fd.cli("logs", "1/body")
    assert logs.returncode == 0, logs
    assert "body 1" in logs.stdout and "body 2" in logs.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [name], "nothing written outside"


@pytest.mark.parametrize("name", ["with space", "répertoire 📁", "a-b_c.d", "100%"])
def test_flow_runs_from_a_directory_with_spaces_or_unicode(tmp_path, name):
    run_in(tmp_path, name)


@pytest.mark.parametrize("name", ["proj#1", "what?", "a%20b"])
def test_flow_runs_from_a_directory_with_uri_characters(tmp_path, name):
    run_in(tmp_path, name)


def test_datastore_root_option_is_used_by_every_command(tmp_path):
    """``--datastore-root`` (no HEADWATER_HOME, no .headwater nearby) for run and the readers."""
    fd = FlowDir(tmp_path / "project")
    fd.write(FLOW)
    store = tmp_path / "elsewhere" / "store"
    env = {k: v for k, v in fd.env().items() if k != "HEADWATER_HOME"}
    root = ["--datastore-root", str(store)]
    done = fd.cli(*root, "run", env=env)
    assert done.returncode == 0, done
    assert (store / "metadata.db").exists()
    logs = fd.cli(*root, "logs", "1/body", env=env)
    assert logs.returncode == 0, logs
    assert "body 1" in logs.stdout and "body 2" in logs.stdout
    dump = fd.cli(*root, "dump", "1/join", env=env)
    assert dump.returncode == 0 and "doubles = [2, 4]" in dump.stdout, dump
    tags = fd.cli(*root, "tag", "add", "checked", "--run-id", "1", env=env)
    assert tags.returncode == 0 and "checked" in tags.stdout, tags
    assert not (fd.path / ".headwater").exists(), "nothing written beside the flow"
    # Without the option nothing is found here, and the message says how to point at one.
    lost = fd.cli("logs", "1/body", env=env)
    assert lost.returncode != 0 and "--datastore-root" in lost.stderr, lost
