"""``@secrets``: the local providers (``inline`` and ``file``) set environment variables in the
task; cloud providers and bare string sources are refused before the run, and a secret never
overwrites a variable already set."""

from __future__ import annotations

import pytest

from headwater.decorators import BadDecoratorArgument
from headwater.plugins.secrets import SecretsError, _read, secrets

SECRETS_FLOW = """
import os
from headwater import secrets

INLINE = [{"type": "inline", "id": "1",
           "options": {"env_vars": {"secret_1": "Pizza is a vegetable.", "SECRET_2": "eels"}}}]


class SecretFlow(FlowSpec):
    @secrets(sources=INLINE)
    @step
    def start(self):
        self.seen = (os.environ.get("secret_1"), os.environ.get("SECRET_2"))
        self.next(self.end)

    @secrets(sources=[{"type": "file", "id": os.path.join(os.path.dirname(__file__), "s.env")}])
    @step
    def end(self):
        self.from_file = os.environ.get("FROM_FILE")
        self.leaked = os.environ.get("secret_1")

if __name__ == "__main__":
    SecretFlow()
"""


def test_inline_and_file_secrets_are_environment_variables_of_their_step(fd):
    fd.write(SECRETS_FLOW)
    (fd.path / "s.env").write_text("# a comment\n\nFROM_FILE='from the file'\n")
    done = fd.run()
    assert done.returncode == 0, done
    run_id = done.run_id("SecretFlow")
    assert fd.value("SecretFlow", run_id, "start", "seen") == ("Pizza is a vegetable.", "eels")
    assert fd.value("SecretFlow", run_id, "end", "from_file") == "from the file"
    assert fd.value("SecretFlow", run_id, "end", "leaked") is None, "secrets stay in their step"


@pytest.mark.parametrize("sources, words", [
    (["my-db-password"], "cloud secrets manager"),
    ([{"type": "aws-secrets-manager", "id": "x"}], "not available in Headwater"),
    ([{"type": "inline", "options": {}}], "env_vars"),
    ([{"type": "file"}], "path as id"),
    ("inline", "must be a list"),
])
def test_sources_headwater_cannot_read_are_refused_before_the_run(sources, words):
    with pytest.raises(BadDecoratorArgument, match=words):
        secrets(sources=sources).step_init(flow=None, graph=None, step_name="start")


def test_a_secret_never_overwrites_a_variable_already_set(monkeypatch):
    monkeypatch.setenv("TAKEN", "mine")
    deco = secrets(sources=[{"type": "inline", "options": {"env_vars": {"TAKEN": "theirs"}}}])
    with pytest.raises(SecretsError, match="TAKEN is already set"):
        deco.task_pre_step(flow=None, step_name="start", retry_count=0, max_retries=0)
    twice = secrets(sources=[{"type": "inline", "options": {"env_vars": {"TWICE_X": "1"}}},
                             {"type": "inline", "options": {"env_vars": {"TWICE_X": "2"}}}])
    with pytest.raises(SecretsError, match="two sources set TWICE_X"):
        twice.task_pre_step(flow=None, step_name="start", retry_count=0, max_retries=0)


def test_a_json_file_source(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"A": "x", "B": 3}')
    assert _read({"type": "file", "id": str(path)}) == {"A": "x", "B": "3"}
