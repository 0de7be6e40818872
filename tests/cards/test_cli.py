"""``python flow.py card list|get|view``, ``--with card``, and cards of resumed runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import FlowDir

FLOW = '''
import os


class CliFlow(FlowSpec):
    @card
    @card(type="blank", id="notes")
    @step
    def start(self):
        current.card["notes"].append(Markdown("note from *start*"))
        self.items = [1, 2, 3]
        self.next(self.work, foreach="items")

    @card(type="blank")
    @step
    def work(self):
        current.card.append(Markdown(f"item {self.input}"))
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        if os.environ.get("CARD_TEST_FAIL"):
            raise RuntimeError("failing on purpose")


if __name__ == "__main__":
    CliFlow()
'''


@pytest.fixture(scope="module")
def run(module_fd: FlowDir) -> FlowDir:
    module_fd.write(FLOW)
    done = module_fd.run()
    assert done.returncode == 0, done
    return module_fd


def test_card_list_shows_index_type_id_and_time(run):
    done = run.cli("card", "list", "1/start/1")
    assert done.returncode == 0, done
    lines = done.stdout.splitlines()
    assert lines[0] == "CliFlow/1/start/1 (attempt 0)"
    assert lines[1].split() == ["index", "type", "id", "hash", "updated", "state"]
    assert lines[2].split()[:3] == ["0", "default", "-"] and lines[2].split()[-1] == "final"
    assert lines[3].split()[:3] == ["1", "blank", "notes"]
    hashes = [c.hash for c in run.cards("CliFlow/1/start/1")]
    assert [line.split()[3] for line in lines[2:4]] == [h[:8] for h in hashes]  # the short form


def test_card_list_of_a_step_lists_every_task_and_accepts_the_flow_name(run):
    done = run.cli("card", "list", "CliFlow/1/work")
    assert done.returncode == 0, done
    for task in ("CliFlow/1/work/2", "CliFlow/1/work/3", "CliFlow/1/work/4"):
        assert task in done.stdout


def test_card_get_prints_the_html(run):
    done = run.cli("card", "get", "1/start/1", "--id", "notes")
    assert done.returncode == 0, done
    assert done.stdout.startswith("<!DOCTYPE html>") and "note from <em>start</em>" in done.stdout


def test_card_get_with_several_matches_takes_the_first_and_says_so(run):
    done = run.cli("card", "get", "1/start/1")
    assert done.returncode == 0, done
    assert 'data-card-type="default"' in done.stdout
    assert "2 cards match; using card 0" in done.stderr


def test_card_get_writes_a_file(run):
    target = run.path / "out.html"
    done = run.cli("card", "get", "1/start", str(target), "--type", "default")  # one task: RUN/STEP is enough
    assert done.returncode == 0, done
    assert target.read_text(encoding="utf-8") == run.html("CliFlow/1/start/1", type="default")
    assert "Wrote card 0 (default) of CliFlow/1/start/1" in done.stderr


def test_card_get_needs_a_task_when_the_step_has_several(run):
    done = run.cli("card", "get", "1/work")
    assert done.returncode != 0
    assert "has 3 tasks (2, 3, 4); name one as RUN/STEP/TASK" in done.stderr


def test_card_get_of_a_task_without_cards_says_so(run):
    done = run.cli("card", "get", "1/end/6")
    assert done.returncode != 0
    assert "task CliFlow/1/end/6 has no cards. Add @card to the step 'end'" in done.stderr
    assert "Traceback" not in done.stderr


def test_card_get_with_no_matching_card_lists_what_there_is(run):
    done = run.cli("card", "get", "1/start/1", "--id", "nope")
    assert done.returncode != 0
    h0, h1 = (c.hash[:8] for c in run.cards("CliFlow/1/start/1"))
    assert (f"has no card matching id 'nope'; its cards are 0: default hash {h0}, 1: blank (id notes) hash {h1}"
            in done.stderr)
    assert done.stderr.startswith("Not found")  # the headline Metaflow's CLI checker looks for


def test_card_get_of_a_bad_path(run):
    done = run.cli("card", "get", "start/1")
    assert done.returncode != 0 and "is not a number" in done.stderr


def test_card_view_writes_a_temporary_file_and_opens_it(run):
    done = run.cli("card", "view", "1/start/1", "--id", "notes")  # BROWSER=true: no real browser
    assert done.returncode == 0, done
    path = Path(done.stdout.strip())
    assert path.suffix == ".html" and "note from <em>start</em>" in path.read_text(encoding="utf-8")
    path.unlink()


def test_with_card_adds_a_default_card_to_every_step(fd: FlowDir):
    fd.write('''
class PlainFlow(FlowSpec):
    @step
    def start(self):
        self.value = 7
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PlainFlow()
''')
    done = fd.cli("--with", "card", "run")
    assert done.returncode == 0, done
    assert "<code>7</code>" in fd.html("PlainFlow/1/start/1")
    assert [c.type for c in fd.cards("PlainFlow/1/end/2")] == ["default"]


def test_a_resumed_run_shows_the_cards_of_cloned_tasks(fd: FlowDir):
    fd.write(FLOW)
    failed = fd.run(CARD_TEST_FAIL="1")
    assert failed.returncode != 0
    resumed = fd.cli("resume")
    assert resumed.returncode == 0, resumed
    run_id = resumed.run_id("CliFlow")
    cards = fd.cards(f"CliFlow/{run_id}/start/1")
    assert [(c.type, c.id) for c in cards] == [("default", None), ("blank", "notes")]
    assert "CliFlow/1/start/1" in cards[0].get()  # the original's card
    assert fd.cards(f"CliFlow/{run_id}/start/1", follow_resumed=False) == []
