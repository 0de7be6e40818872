"""What Metaflow's own readers of cards rely on: a card stored exactly as render() returned it,
``Card.hash``, ``card list --as-json`` / ``--file`` and ``card get --hash``."""

from __future__ import annotations

import json
import re

import pytest

from headwater.datastore.cards import CardFolder

from .conftest import FlowDir

FLOW = '''
class Fragment(CardBase):
    type = "fragment"

    def render(self, task):
        return task.pathspec  # plain text: Metaflow's test cards do this


class HashFlow(FlowSpec):
    @card(type="fragment")
    @card(type="blank", id="notes")
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.work, foreach="items")

    @card(type="fragment")
    @step
    def work(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    HashFlow()
'''

HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def run(module_fd: FlowDir) -> FlowDir:
    module_fd.write(FLOW)
    done = module_fd.run()
    assert done.returncode == 0, done
    return module_fd


def test_a_fragment_is_stored_and_read_back_unchanged(run):
    assert run.html("HashFlow/1/start/1", type="fragment") == "HashFlow/1/start/1"
    done = run.cli("card", "get", "1/start/1", "--type", "fragment")
    assert done.returncode == 0, done
    assert done.stdout == "HashFlow/1/start/1"
    target = run.path / "fragment.html"
    assert run.cli("card", "get", "1/start/1", str(target), "--type", "fragment").returncode == 0
    assert target.read_text(encoding="utf-8") == "HashFlow/1/start/1"


def test_card_view_shows_a_fragment_inside_the_page(run):
    from pathlib import Path

    done = run.cli("card", "view", "1/start/1", "--type", "fragment")  # BROWSER=true: no real browser
    assert done.returncode == 0, done
    path = Path(done.stdout.strip())
    shown = path.read_text(encoding="utf-8")
    path.unlink()
    assert shown.startswith("<!DOCTYPE html>") and "<main>\nHashFlow/1/start/1\n</main>" in shown


def test_every_card_has_its_own_hash_of_32_hex_digits(run):
    cards = run.cards("HashFlow/1/start/1") + run.cards("HashFlow/1/work/2") + run.cards("HashFlow/1/work/3")
    hashes = [c.hash for c in cards]
    assert all(HEX32.fullmatch(h) for h in hashes), hashes
    assert len(set(hashes)) == len(hashes) == 4
    assert [c.hash for c in run.cards("HashFlow/1/start/1")] == hashes[:2]  # read again: the same


def test_card_list_as_json_for_one_task_has_metaflows_shape(run):
    done = run.cli("card", "list", "1/start/1", "--as-json")
    assert done.returncode == 0, done
    listed = json.loads(done.stdout)
    cards = run.cards("HashFlow/1/start/1")
    assert listed == {"pathspec": "HashFlow/1/start/1", "cards": [
        {"type": "fragment", "hash": cards[0].hash, "id": None, "filename": "0.html", "index": 0, "final": True},
        {"type": "blank", "hash": cards[1].hash, "id": "notes", "filename": "1.html", "index": 1, "final": True},
    ]}


def test_card_list_filters_and_writes_a_file(run):
    target = run.path / "list.json"
    done = run.cli("--quiet", "card", "list", "1/start/1", "--as-json", "--file", str(target), "--type", "blank")
    assert done.returncode == 0, done
    assert done.stdout == ""
    listed = json.loads(target.read_text(encoding="utf-8"))
    assert [(c["type"], c["id"]) for c in listed["cards"]] == [("blank", "notes")]


def test_card_list_as_json_of_a_task_without_cards_is_an_empty_list_of_cards(run):
    done = run.cli("card", "list", "1/end/5", "--as-json")
    assert done.returncode == 0, done
    assert json.loads(done.stdout) == {"pathspec": "HashFlow/1/end/5", "cards": []}


def test_card_list_of_several_tasks_is_a_json_list(run):
    done = run.cli("card", "list", "1/work", "--as-json")
    assert done.returncode == 0, done
    listed = json.loads(done.stdout)
    assert [e["pathspec"] for e in listed] == ["HashFlow/1/work/2", "HashFlow/1/work/3"]
    assert [e["cards"][0]["hash"] for e in listed] == [run.cards(e["pathspec"])[0].hash for e in listed]


def test_card_list_without_a_pathspec_lists_the_latest_run_to_a_file(run):
    target = run.path / "run.json"
    done = run.cli("card", "list", "--file", str(target))  # --file alone writes JSON
    assert done.returncode == 0, done
    listed = json.loads(target.read_text(encoding="utf-8"))
    assert [e["pathspec"] for e in listed] == ["HashFlow/1/start/1", "HashFlow/1/work/2", "HashFlow/1/work/3"]


def test_card_get_by_hash_or_a_leading_part_of_it(run):
    notes = run.cards("HashFlow/1/start/1", id="notes")[0]
    for given in (notes.hash, notes.hash[:6]):
        done = run.cli("card", "get", "1/start/1", "--hash", given)
        assert done.returncode == 0, done
        assert done.stdout == notes.get() and "cards match" not in done.stderr


def test_card_get_with_an_unknown_hash_is_not_found(run):
    done = run.cli("card", "get", "1/start/1", "--hash", "not-a-hash")
    assert done.returncode != 0
    assert done.stderr.startswith("Not found") and "no card matching hash 'not-a-hash'" in done.stderr


# -- the datastore's rule, on a folder --------------------------------------------------------------

def test_a_card_keeps_its_hash_when_it_is_rewritten(tmp_path):
    folder = CardFolder(str(tmp_path / "F" / "1" / "s" / "2" / "0"))
    first = folder.write(0, "blank", None, "<p>live</p>", final=False)
    other = folder.write(1, "fragment", "x", "text", final=True)
    again = folder.write(0, "blank", None, "<p>done</p>", final=True)
    assert HEX32.fullmatch(first.hash) and first.hash != other.hash
    assert again.hash == first.hash
    assert [c.hash for c in folder.list()] == [first.hash, other.hash]
    assert folder.read(folder.list()[0]) == "<p>done</p>"


def test_an_index_written_before_hashes_gets_a_stable_one(tmp_path):
    place = ("F", "1", "s", "2", "0")
    entry = {"index": 0, "type": "default", "id": None, "file": "0.html", "updated_at": 1.0, "final": True}
    hashes = []
    for root in ("a", "b"):  # the same attempt under two roots (a copied datastore)
        folder = CardFolder(str(tmp_path.joinpath(root, *place)))
        folder._atomic_write("index.json", json.dumps([entry]).encode())
        hashes.append(folder.list()[0].hash)
    assert HEX32.fullmatch(hashes[0]) and hashes[0] == hashes[1]
