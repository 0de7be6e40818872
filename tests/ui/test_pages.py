"""Every page through a real browser: what it shows, and the links between pages."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import task_id


def test_flows_page_lists_each_flow_with_its_latest_run(tab) -> None:
    tab.open("/")
    rows = tab.page.locator("table.flows tbody tr")
    expect(rows).to_have_count(5)
    train = rows.filter(has_text="TrainFlow")
    expect(train.locator(".badge")).to_have_text("succeeded")
    expect(train.locator("td").nth(1)).to_have_text("#2")
    expect(rows.filter(has_text="FailFlow").locator(".badge")).to_have_text("failed")
    expect(rows.filter(has_text="StuckFlow").locator(".badge")).to_have_text("abandoned")
    expect(rows.filter(has_text="ManyFlow").locator("td").nth(6)).to_have_text("120")
    train.get_by_role("link", name="TrainFlow").click()
    expect(tab.page).to_have_url(re.compile(r"/TrainFlow$"))
    assert not tab.errors


def test_flow_page_lists_runs_newest_first_and_filters_them(tab) -> None:
    tab.open("/TrainFlow")
    runs = tab.page.locator("table.runs tbody tr")
    expect(runs).to_have_count(2)
    expect(runs.nth(0).locator("td").first).to_have_text("#2")
    expect(runs.nth(0)).to_contain_text("bob")
    expect(runs.nth(1).locator(".chip")).to_have_text("experiment")
    # a tag chip filters by tag
    runs.nth(1).locator(".chip").click()
    expect(tab.page).to_have_url(re.compile(r"/TrainFlow\?tag=experiment$"))
    expect(runs).to_have_count(1)
    # the form filters by user
    tab.page.get_by_role("link", name="clear").click()
    tab.page.locator("select[name=user]").select_option("bob")
    tab.page.get_by_role("button", name="Filter").click()
    expect(runs).to_have_count(1)
    expect(runs.first.locator("td").first).to_have_text("#2")
    runs.first.get_by_role("link", name="#2").click()
    expect(tab.page).to_have_url(re.compile(r"/TrainFlow/2$"))
    assert not tab.errors


def test_flow_page_filters_by_status_and_pages(tab) -> None:
    tab.open("/ManyFlow")
    runs = tab.page.locator("table.runs tbody tr")
    expect(runs).to_have_count(50)
    expect(tab.page.locator("nav.pager").first).to_contain_text("1–50 of 120")
    tab.page.get_by_role("link", name="next →").click()
    expect(tab.page).to_have_url(re.compile(r"page=2"))
    expect(runs.first.locator("td").first).to_have_text("#70")
    tab.open("/ManyFlow?status=failed&user=bob")
    expect(tab.page.locator(".live p.muted").first).to_have_text("20 runs match")
    tab.open("/FailFlow?status=running")
    expect(tab.page.locator("p.empty")).to_have_text("No run matches these filters.")


def test_run_page_draws_the_graph_timeline_counts_and_parameters(tab, datastore) -> None:
    tab.open("/TrainFlow/1")
    graph = tab.page.locator("svg.graph")
    expect(graph.locator("a.node")).to_have_count(4)
    expect(graph.locator("a.node.s-succeeded")).to_have_count(4)
    expect(graph.locator('a.node[data-step="train"]')).to_contain_text("4/4 ok")
    expect(tab.page.locator("svg.timeline a.lane")).to_have_count(7)
    expect(tab.page.locator(".summary")).to_contain_text("7 tasks")
    expect(tab.page.locator(".summary")).to_contain_text("7 succeeded")
    params = tab.page.locator("#parameters tbody tr")
    expect(params.filter(has_text="alpha")).to_contain_text("0.7")
    expect(params.filter(has_text="epochs")).to_contain_text("5")
    expect(tab.page.locator("#about")).to_contain_text("experiment")
    expect(tab.page.locator("#steps tbody tr")).to_have_count(4)
    expect(tab.page.locator("#results tbody tr").filter(has_text="best_lr")).to_contain_text("0.03")
    graph.locator('a.node[data-step="train"]').click()
    expect(tab.page).to_have_url(re.compile(r"/TrainFlow/1/train$"))
    assert not tab.errors


def test_step_page_lists_tasks_with_their_foreach_input(tab, datastore) -> None:
    tab.open("/TrainFlow/1/train")
    tasks = tab.page.locator("table.tasks tbody tr")
    expect(tasks).to_have_count(4)
    expect(tasks.nth(0).locator("td").nth(2)).to_have_text("0")
    expect(tasks.nth(1).locator("td").nth(3)).to_have_text("0.01")
    expect(tab.page.get_by_text("4 finished tasks took: median")).to_have_count(1)
    first = task_id(datastore, "TrainFlow", 1, "train")
    tasks.nth(0).get_by_role("link", name=str(first)).click()
    expect(tab.page).to_have_url(re.compile(rf"/TrainFlow/1/train/{first}$"))


def test_task_page_shows_artifacts_logs_and_neighbours(tab, datastore) -> None:
    first = task_id(datastore, "TrainFlow", 1, "train")
    tab.open(f"/TrainFlow/1/train/{first}")
    expect(tab.page.locator("#about")).to_contain_text("succeeded")
    expect(tab.page.locator("#about")).to_contain_text("item 0 of 4")
    arts = tab.page.locator("#artifacts tbody tr")
    expect(arts.filter(has_text="model").first).to_contain_text("'w':")
    expect(arts.filter(has_text="loss")).to_have_count(1)
    logs = tab.page.locator("pre.log")
    expect(logs.nth(0)).to_contain_text("epoch 5/5 lr=0.001")
    expect(logs.nth(1)).to_contain_text("loss=")
    tab.page.locator("#about a", has_text="start/").click()
    expect(tab.page).to_have_url(re.compile(r"/TrainFlow/1/start/\d+$"))
    expect(tab.page.locator("#about")).to_contain_text("children")
    # a value that looks like HTML is shown as text, never run
    note = tab.page.locator("#artifacts tbody tr").filter(has_text="note")
    expect(note).to_contain_text("<script>alert('not escaped')</script> & friends")
    assert not tab.dialogs
    assert not tab.errors


def test_artifact_page_shows_the_whole_value(tab, datastore) -> None:
    choose = task_id(datastore, "TrainFlow", 1, "choose")
    tab.open(f"/TrainFlow/1/choose/{choose}")
    tab.page.locator("#artifacts").get_by_role("link", name="losses").click()
    expect(tab.page).to_have_url(re.compile(rf"/TrainFlow/1/choose/{choose}/losses\?attempt=0$"))
    expect(tab.page.locator("pre.value")).to_contain_text("0.001:")
    expect(tab.page.locator("pre.snippet")).to_contain_text(f'Task("TrainFlow/1/choose/{choose}", attempt=0)["losses"].data')


def test_failed_task_shows_each_attempt_and_the_traceback(tab, datastore) -> None:
    flaky = task_id(datastore, "FailFlow", 1, "flaky")
    tab.open(f"/FailFlow/1/flaky/{flaky}")
    tabs = tab.page.locator("nav.attempts a")
    expect(tabs).to_have_count(2)
    expect(tabs.nth(1)).to_have_class(re.compile("on"))
    expect(tab.page.locator("#about")).to_contain_text("succeeded")
    tabs.nth(0).click()
    expect(tab.page).to_have_url(re.compile(r"\?attempt=0$"))
    expect(tab.page.locator("#about .badge")).to_have_text("failed")
    expect(tab.page.locator("#exception")).to_contain_text("ConnectionError: first attempt always fails")
    expect(tab.page.locator("pre.log").nth(1)).to_contain_text("connection reset, retrying")
    parse = task_id(datastore, "FailFlow", 1, "parse")
    tab.open(f"/FailFlow/1/parse/{parse}")
    expect(tab.page.locator("#exception .exc")).to_have_text("ValueError: row 2 is <malformed>")
    expect(tab.page.locator("pre.traceback")).to_contain_text("fail_flow.py")
    expect(tab.page.locator("pre.traceback")).to_contain_text("in check")
    tab.open(f"/FailFlow/1/flaky/{flaky}?attempt=7")
    expect(tab.page.locator(".errorpage")).to_contain_text("has no attempt 7")


def test_run_page_of_a_failed_run(tab) -> None:
    tab.open("/FailFlow/1")
    expect(tab.page.locator(".summary .badge")).to_have_text("failed")
    expect(tab.page.locator(".failures li")).to_have_count(1)
    expect(tab.page.locator(".failures li")).to_contain_text("ValueError: row 2 is <malformed>")
    expect(tab.page.locator('svg.graph a.node[data-step="parse"]')).to_have_class(re.compile("s-failed"))
    expect(tab.page.locator('svg.graph a.node[data-step="end"]')).to_have_class(re.compile("s-pending"))
    expect(tab.page.locator("#steps")).to_contain_text("retried")


def test_abandoned_run_is_shown_as_such(tab) -> None:
    tab.open("/StuckFlow/1")
    expect(tab.page.locator(".summary .badge")).to_have_text("abandoned")
    expect(tab.page.locator(".notice")).to_contain_text("resume --origin-run-id 1")
    expect(tab.page.locator('svg.graph a.node[data-step="start"]')).to_have_class(re.compile("s-abandoned"))
    # it ended with its task's last heartbeat, 30 s after it started: the duration stays put
    expect(tab.page.locator(".summary")).to_contain_text("duration 30.0 s")
    expect(tab.page.locator("#about")).to_contain_text("last heartbeat")
    tab.open("/StuckFlow?status=abandoned")
    expect(tab.page.locator("table.runs tbody tr")).to_have_count(1)
    expect(tab.page.locator("table.runs tbody tr td").nth(3)).to_have_text("30.0 s")


def test_a_2000_way_foreach_stays_one_box_and_pages_its_tasks(tab) -> None:
    tab.open("/BigFlow/1")
    expect(tab.page.locator("svg.graph a.node")).to_have_count(4)
    expect(tab.page.locator('svg.graph a.node[data-step="train"]')).to_contain_text("1,997/2,000 ok · 3 failed")
    expect(tab.page.locator("svg.timeline a.lane")).to_have_count(2)  # one lane per started step
    tab.page.locator('svg.graph a.node[data-step="train"]').click()
    expect(tab.page.locator("table.tasks tbody tr")).to_have_count(100)
    expect(tab.page.locator("nav.pager").first).to_contain_text("1–100 of 2,000")
    tab.page.locator("nav.tabs").get_by_role("link", name="failed 3").click()
    expect(tab.page.locator("table.tasks tbody tr")).to_have_count(3)


def test_cards_are_sandboxed_and_broken_ones_explained(tab, datastore) -> None:
    end = task_id(datastore, "TrainFlow", 1, "end")
    tab.open(f"/TrainFlow/1/end/{end}")
    frame = tab.page.locator("iframe.cardframe")
    expect(frame).to_have_count(1)
    assert frame.get_attribute("sandbox") == "allow-scripts"
    expect(tab.page.frame_locator("iframe.cardframe").locator("#result")).to_contain_text("parent:blocked")
    expect(tab.page.frame_locator("iframe.cardframe").locator("#result")).to_contain_text("storage:blocked")
    expect(tab.page.locator("#cards")).to_contain_text("This card's file is missing.")
    choose = task_id(datastore, "TrainFlow", 1, "choose")
    tab.open(f"/TrainFlow/1/choose/{choose}")
    expect(tab.page.frame_locator("iframe.cardframe").locator("body")).to_contain_text("not UTF-8")
    parse = task_id(datastore, "FailFlow", 1, "parse")
    tab.open(f"/FailFlow/1/parse/{parse}")
    expect(tab.page.locator("#cards .notice")).to_contain_text("is corrupted")


def test_not_found_pages_say_what_is_missing_and_link_to_the_parent(tab, datastore) -> None:
    first = task_id(datastore, "TrainFlow", 1, "train")
    cases = [
        ("/NoSuchFlow", "There is no flow named NoSuchFlow", "all flows", "/"),
        ("/TrainFlow/99", "TrainFlow has no run 99", "runs of TrainFlow", "/TrainFlow"),
        ("/TrainFlow/1/nostep", "has no step nostep", "run TrainFlow/1", "/TrainFlow/1"),
        ("/TrainFlow/1/train/9999", "has no task 9999", "step TrainFlow/1/train", "/TrainFlow/1/train"),
        (f"/TrainFlow/1/train/{first}/nothing", "has no artifact nothing",
         f"task TrainFlow/1/train/{first}", f"/TrainFlow/1/train/{first}"),
    ]
    for path, message, label, parent in cases:
        response = tab.open(path)
        assert response.status == 404, path
        expect(tab.page.locator(".errorpage .message")).to_contain_text(message)
        tab.page.locator(".errorpage").get_by_role("link", name=label).click()
        expect(tab.page).to_have_url(re.compile(re.escape(parent) + "$"))
