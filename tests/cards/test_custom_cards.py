"""Custom card types (in the flow file or from a package's entry point), cards that fail, and
decorator arguments refused before the run starts."""

from __future__ import annotations

import os
import time

import pytest

from .conftest import FlowDir, assert_offline

FLOW = '''
import time


class SummaryCard(CardBase):
    type = "summary"

    def render(self, task):
        return (f"<h1>Summary of {task.pathspec}</h1><p>loss={task.data.loss}</p>"
                f"<p>color={self.options.get('color')}</p><p>status={task.status}</p>")


class OwnPage(CardBase):
    type = "own_page"
    ALLOW_USER_COMPONENTS = True

    def render(self, task):
        return "<!DOCTYPE html><html><body><div id='mine'>" + self.render_components() + "</div></body></html>"


class Exploding(CardBase):
    type = "exploding"

    def render(self, task):
        raise RuntimeError("card code is broken")


class Slow(CardBase):
    type = "slow"

    def render(self, task):
        time.sleep(30)
        return "<p>too late</p>"


class NotText(CardBase):
    type = "not_text"

    def render(self, task):
        return 42


class CustomFlow(FlowSpec):
    @card(type="summary", options={"color": "teal"})
    @card(type="own_page", id="own")
    @card(type="exploding")
    @card(type="slow", timeout=1)
    @card(type="not_text")
    @step
    def start(self):
        self.loss = 0.125
        current.card.append(Markdown("for **own page**"))  # the only card that takes components
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CustomFlow()
'''


@pytest.fixture(scope="module")
def run(module_fd: FlowDir):
    module_fd.write(FLOW)
    started = time.monotonic()
    done = module_fd.run()
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done
    return module_fd, done, elapsed


def test_card_types_in_declaration_order(run):
    fd, _, _ = run
    cards = fd.cards("CustomFlow/1/start/1")
    assert [(c.index, c.type, c.id) for c in cards] == [
        (0, "summary", None), (1, "own_page", "own"), (2, "exploding", None), (3, "slow", None),
        (4, "not_text", None)]


def test_custom_card_defined_in_the_flow_file_is_stored_exactly_as_rendered(run):
    fd, _, _ = run
    html = fd.html("CustomFlow/1/start/1", type="summary")
    assert html == ("<h1>Summary of CustomFlow/1/start/1</h1><p>loss=0.125</p>"
                    "<p>color=teal</p><p>status=succeeded</p>")  # a fragment stays a fragment


def test_a_fragment_is_shown_inside_the_standard_page(run):
    fd, _, _ = run
    (summary,) = fd.cards("CustomFlow/1/start/1", type="summary")
    shown = summary.page()
    assert_offline(shown)
    assert "<title>CustomFlow/1/start/1 (summary)</title>" in shown and 'data-card-state="final"' in shown
    assert summary.get() in shown
    assert summary.get() in summary._repr_html_().replace("&lt;", "<").replace("&gt;", ">")


def test_custom_card_with_components_returns_its_own_page(run):
    fd, _, _ = run
    html = fd.html("CustomFlow/1/start/1", id="own")
    assert html.startswith("<!DOCTYPE html><html><body><div id='mine'>")
    assert fd.cards("CustomFlow/1/start/1", id="own")[0].page() == html  # a whole page is shown as it is
    assert "for <strong>own page</strong>" in html


def test_a_card_that_raises_becomes_an_error_card(run):
    fd, done, _ = run
    html = fd.html("CustomFlow/1/start/1", type="exploding")
    assert "Card could not be rendered" in html and "RuntimeError: card code is broken" in html
    assert "Traceback" in html and "The task itself was not affected" in html
    assert "Run CustomFlow/1 succeeded" in done.stdout


def test_a_card_slower_than_its_timeout_becomes_an_error_card(run):
    fd, _, elapsed = run
    html = fd.html("CustomFlow/1/start/1", type="slow")
    assert "did not finish rendering within its timeout of 1 seconds" in html
    assert elapsed < 20  # the task did not wait for the slow card


def test_a_card_that_returns_no_text_becomes_an_error_card(run):
    fd, _, _ = run
    assert "render() returned a int, not an HTML string" in fd.html("CustomFlow/1/start/1", type="not_text")


ENTRY_POINT_FLOW = '''
class EntryFlow(FlowSpec):
    @card(type="hello", options={"name": "world"})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EntryFlow()
'''


def with_path(site) -> str:
    """PYTHONPATH with ``site`` first, keeping the Headwater the tests run (a worktree's src)."""
    return os.pathsep.join([str(site)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))


def test_card_type_from_an_installed_package_entry_point(fd: FlowDir, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "hello_cards.py").write_text(
        "from headwater.cards import CardBase\n\n"
        "class HelloCard(CardBase):\n"
        "    type = 'hello'\n\n"
        "    def render(self, task):\n"
        "        return f\"<h1>Hello {self.options['name']} from {task.step_name}</h1>\"\n",
        encoding="utf-8")
    dist = site / "hello_cards-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: hello-cards\nVersion: 1.0\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[headwater.cards]\nhello = hello_cards:HelloCard\n", encoding="utf-8")
    fd.write(ENTRY_POINT_FLOW)
    done = fd.run(PYTHONPATH=with_path(site))
    assert done.returncode == 0, done
    assert "<h1>Hello world from start</h1>" in fd.html("EntryFlow/1/start/1")


BROKEN_PACKAGE_FLOW = '''
class BrokenPackageFlow(FlowSpec):
    @card(type="hello", save_errors=False)
    @card(type="from_broken", save_errors=False)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BrokenPackageFlow()
'''


def test_a_package_whose_card_module_fails_to_import_leaves_the_run_alone(fd: FlowDir, tmp_path):
    """As in Metaflow: with save_errors=False a card type that cannot be found (its module raised
    on import) is a warning, not a refusal, and the task simply has no such card."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "good_cards.py").write_text(
        "from headwater.cards import CardBase\n\n"
        "class HelloCard(CardBase):\n"
        "    type = 'hello'\n\n"
        "    def render(self, task):\n"
        "        return task.pathspec\n\n"
        "CARDS = [HelloCard]\n", encoding="utf-8")
    (site / "broken_cards.py").write_text(
        "from headwater.cards import CardBase\n\n"
        "class FromBroken(CardBase):\n"
        "    type = 'from_broken'\n\n"
        "    def render(self, task):\n"
        "        return 'should never be stored'\n\n"
        "CARDS = [FromBroken]\n"
        "raise RuntimeError('this module cannot be imported')\n", encoding="utf-8")
    dist = site / "some_cards-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: some-cards\nVersion: 1.0\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[headwater.cards]\ngood = good_cards\nbroken = broken_cards\n",
                                           encoding="utf-8")
    fd.write(BROKEN_PACKAGE_FLOW)
    done = fd.run(PYTHONPATH=with_path(site))
    assert done.returncode == 0, done
    assert "cannot load card types from entry point 'broken'" in done.stderr
    assert "unknown card type 'from_broken'" in done.stderr and "(save_errors=False)" in done.stderr
    cards = fd.cards("BrokenPackageFlow/1/start/1")
    assert [(c.type, c.get()) for c in cards] == [("hello", "BrokenPackageFlow/1/start/1")]
    # without save_errors=False the same unknown type still stops the run before it starts
    fd.write(BROKEN_PACKAGE_FLOW.replace('type="from_broken", save_errors=False', 'type="from_broken"'))
    refused = fd.run(PYTHONPATH=with_path(site))
    assert refused.returncode != 0 and "unknown card type 'from_broken'" in refused.stderr


REFUSED = '''
class RefusedFlow(FlowSpec):
    {decorators}
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RefusedFlow()
'''


@pytest.mark.parametrize("decorators, message", [
    ('@card(type="defualt")', "unknown card type 'defualt'. Did you mean 'default'?"),
    ('@card(type="nosuch")', "Known types: blank, default."),
    ("@card(timeout=0)", "timeout must be a positive number of seconds, got 0"),
    ('@card(id="has space")', "id must be a short name"),
    ("@card(options=[1])", "options must be a dict, got list"),
    ('@card(id="x")\n    @card(type="blank", id="x")', "2 cards have id='x'"),
    ('@card(colour="red")', "flow.py:4: @card got an unknown argument 'colour'; it accepts: type, id"),
    ('@card("blank")', "flow.py:4: @card takes keyword arguments only"),
    ("@card(refresh_interval=0)", "flow.py:4: @card on step 'start': refresh_interval must be a positive number"),
    ('@card(save_errors="yes")', "save_errors must be True or False, got 'yes'"),
    ('@card(scope="run")', "scope='run' is not supported"),
])
def test_bad_card_arguments_stop_the_run_before_it_starts(fd: FlowDir, decorators, message):
    fd.write(REFUSED.replace("{decorators}", decorators))
    done = fd.run()
    assert done.returncode != 0, done
    assert message in done.stderr, done
    assert "started" not in done.stdout
    assert not fd.home.exists()  # refused before anything was written


ARGUMENTS_FLOW = '''
class Exploding(CardBase):
    type = "exploding"

    def render(self, task):
        raise RuntimeError("card code is broken")


class ArgsFlow(FlowSpec):
    @card(type="exploding", id="quiet", save_errors=False)
    @card(type="exploding", id="loud")
    @card(type="blank", id="first")
    @card(type="blank", id="second", customize=True, refresh_interval=5, rank="high")
    @step
    def start(self):
        current.card.append(Markdown("went to the customized card"))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ArgsFlow()
'''


def test_metaflow_card_arguments_save_errors_and_customize(fd: FlowDir):
    fd.write(ARGUMENTS_FLOW)
    done = fd.run()
    assert done.returncode == 0, done
    # save_errors=True (the default) stores an error card; False stores nothing...
    assert "RuntimeError: card code is broken" in fd.html("ArgsFlow/1/start/1", id="loud")
    assert fd.cards("ArgsFlow/1/start/1", id="quiet") == []
    # ... and the reason, with the traceback, is in the task's stderr log.
    log = fd.cli("logs", "--stderr", "ArgsFlow/1/start/1")
    assert ("[@card] card 0 (exploding, id='quiet') of ArgsFlow/1/start/1 could not be rendered; "
            "it was not saved (save_errors=False)") in log.stdout, log
    assert "Traceback" in log.stdout and "RuntimeError: card code is broken" in log.stdout
    # customize=True: append goes to that card although two editable cards have ids.
    assert "went to the customized card" in fd.html("ArgsFlow/1/start/1", id="second")
    assert "went to the customized card" not in fd.html("ArgsFlow/1/start/1", id="first")


def test_a_card_class_of_a_module_that_failed_to_import_is_not_a_card_type(tmp_path, monkeypatch):
    import gc
    import importlib

    from headwater.cards.base import UnknownCardType, card_class

    (tmp_path / "half_imported_cards.py").write_text(
        "from headwater.cards import CardBase\n\n"
        "class Half(CardBase):\n"
        "    type = 'half_imported'\n\n"
        "raise RuntimeError('broken on purpose')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    gc.disable()  # keep the orphaned class alive, as a process that has not collected yet would
    try:
        with pytest.raises(RuntimeError):
            importlib.import_module("half_imported_cards")
        with pytest.raises(UnknownCardType):
            card_class("half_imported")
    finally:
        gc.enable()
