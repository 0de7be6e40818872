"""What tasks print: live on the console with a ``[run/step/task]`` prefix, stored per task,
and printed again by ``logs`` and ``dump``; non-ASCII text everywhere."""

from __future__ import annotations

import re

import pytest

LOGS = """
import logging
import subprocess
import sys

class LogFlow(FlowSpec):
    greeting = Parameter("greeting", default="hello")

    @step
    def start(self):
        print("plain stdout line")
        print("unicode: héllo wörld 🚀 日本語 ✓")
        print("to stderr", file=sys.stderr)
        logging.warning("from the logging module")
        subprocess.run(["echo", "from a subprocess"], check=True)
        subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('child stderr\\\\n')"],
                       check=True)
        print("no newline at the end", end="")
        self.greeting_seen = self.greeting
        self.tags_seen = sorted(current.tags)
        self.next(self.other)

    @step
    def other(self):
        print("other step says", self.greeting)
        self.numbers = [1, 2, 3]
        self.text = "ünïcödé ✨"
        self.long = list(range(1000))
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    LogFlow()
"""

GREETING = "こんにちは 🌊 ça va"
TAG = "étiquette-🏷"


@pytest.fixture(scope="module")
def logged(module_fd):
    module_fd.write(LOGS)
    done = module_fd.run("--greeting", GREETING, "--tag", TAG)
    assert done.returncode == 0, done
    return done


@pytest.fixture(scope="module")
def task_ids(module_fd, logged):
    return {t["step"]: t["id"] for t in module_fd.tasks("LogFlow", 1)}


def console_lines(done, step, task_id):
    prefix = f"[1/{step}/{task_id}] "
    return [line[len(prefix):] for line in done.stdout.splitlines() if line.startswith(prefix)]


def test_console_shows_task_output_with_its_prefix(logged, task_ids):
    lines = console_lines(logged, "start", task_ids["start"])
    assert "plain stdout line" in lines
    assert "unicode: héllo wörld 🚀 日本語 ✓" in lines
    assert "to stderr" in lines
    assert "from a subprocess" in lines
    assert "child stderr" in lines
    assert any("from the logging module" in line for line in lines)
    assert "no newline at the end" in lines
    assert f"other step says {GREETING}" in console_lines(logged, "other", task_ids["other"])


def test_stdout_and_stderr_are_stored_per_task(module_fd, logged, task_ids):
    out = module_fd.log("LogFlow", 1, "start", task_ids["start"], "stdout")
    err = module_fd.log("LogFlow", 1, "start", task_ids["start"], "stderr")
    assert out.splitlines() == [
        "plain stdout line", "unicode: héllo wörld 🚀 日本語 ✓", "from a subprocess",
        "no newline at the end"]
    assert "to stderr" in err and "child stderr" in err and "from the logging module" in err
    assert "plain stdout line" not in err and "to stderr" not in out
    other = module_fd.log("LogFlow", 1, "other", task_ids["other"], "stdout")
    assert other == f"other step says {GREETING}\n"
    assert module_fd.log("LogFlow", 1, "end", task_ids["end"], "stdout") == ""


def test_unicode_parameter_and_tag_are_kept(module_fd, logged):
    assert module_fd.value("LogFlow", 1, "start", "greeting_seen") == GREETING
    assert TAG in module_fd.value("LogFlow", 1, "start", "tags_seen")
    tags = [t for (t,) in module_fd.query(
        "SELECT tag FROM tags WHERE flow = 'LogFlow' AND run_number = 1 AND system = 0")]
    assert tags == [TAG]
    with module_fd.client() as hw:
        run = hw.Run("LogFlow/1")
        assert TAG in run.user_tags
        assert run.data.greeting == GREETING
        assert [r.id for r in hw.Flow("LogFlow").runs(TAG)] == ["1"]


def test_logs_command_prints_a_tasks_output(module_fd, logged, task_ids):
    done = module_fd.cli("logs", f"1/start/{task_ids['start']}")
    assert done.returncode == 0, done
    text = done.stdout + done.stderr
    for line in ("plain stdout line", "unicode: héllo wörld 🚀 日本語 ✓", "from a subprocess",
                 "to stderr", "child stderr"):
        assert line in text
    assert "other step says" not in text


def test_logs_command_with_stream_filters(module_fd, logged, task_ids):
    done = module_fd.cli("logs", "--stderr", f"1/start/{task_ids['start']}")
    assert done.returncode == 0, done
    text = done.stdout + done.stderr
    assert "to stderr" in text and "plain stdout line" not in text


def test_logs_command_for_a_whole_step(module_fd, logged, task_ids):
    done = module_fd.cli("logs", "1/other")
    assert done.returncode == 0, done
    assert f"other step says {GREETING}" in done.stdout


def test_dump_command_prints_artifacts(module_fd, logged, task_ids):
    done = module_fd.cli("dump", "1/other")
    assert done.returncode == 0, done
    assert re.search(r"numbers = \[1, 2, 3\]", done.stdout)
    assert "ünïcödé ✨" in done.stdout
    assert f"LogFlow/1/other/{task_ids['other']}" in done.stdout


def test_dump_shortens_long_values_only_in_the_overview(module_fd, logged):
    every = module_fd.cli("dump", "1/other")
    (line,) = [x for x in every.stdout.splitlines() if x.strip().startswith("long = ")]
    assert line.endswith("...") and len(line.split(" = ", 1)[1]) == 200, "the overview keeps each value short"
    assert "`python flow.py dump 1/other --include long` prints one whole" in every.stdout
    named = module_fd.cli("dump", "--include", "long", "1/other")
    assert named.returncode == 0, named
    assert f"  long = {list(range(1000))!r}\n" in named.stdout, "a value asked for by name is printed whole"
    capped = module_fd.cli("dump", "--include", "long", "--max-value-size", "20", "1/other")
    assert "  long = [0, 1, 2, 3, 4, 5...\n" in capped.stdout, capped


@pytest.mark.parametrize("path", ["1/nosuchstep", "99/start", "one/start"])
def test_logs_of_something_that_does_not_exist_is_a_clear_error(module_fd, logged, path):
    done = module_fd.cli("logs", path)
    assert done.returncode != 0
    assert "Traceback" not in done.output
    assert done.stderr.strip()
