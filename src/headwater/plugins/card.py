"""``@card(type="default", id=None, options={}, timeout=45, ...)``: a report of the task, as HTML.

    @card                                  # the default card: the task, its artifacts, the graph
    @card(type="blank", id="report")       # only what the step appends to current.card
    @step
    def train(self):
        current.card["report"].append(Markdown("# Loss"))

Several ``@card`` may decorate one step. Cards are rendered when the task ends (after its
artifacts are stored, so they show the real outcome; a failed task gets its cards too) and
stored through the datastore (:mod:`headwater.datastore.cards`), one HTML file each.
``current.card.refresh()`` stores live versions while the step runs. The task is never
affected by its cards.

Metaflow's other arguments, with Metaflow's meaning:

- ``save_errors=True``: a card whose render raises, returns no text or exceeds ``timeout``
  seconds is stored as an error card showing why (with the traceback). With ``False`` nothing
  is stored for it; the reason goes to the task's stderr (so ``logs`` shows it).
- ``customize=True``: this card receives ``current.card.append`` even when the step has
  several editable cards.
- ``refresh_interval``: at least this many seconds between two live renders of the card
  (default 1; Metaflow's 5 reflects the subprocess it starts per render, which we do not).
- ``scope`` (only ``"task"``, Metaflow's only value) and ``rank`` (a hint for ordering, kept
  with the card's arguments) are accepted so Metaflow flows run unchanged.
"""

from __future__ import annotations

import re
import sys
import time

from ..decorators import BadDecoratorArgument, StepDecorator

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

# ``headwater.current`` is imported inside functions only: importing the submodule here would
# shadow the lazily exported ``current`` object for a flow that writes
# ``from headwater import card, current``.

_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


class card(StepDecorator):  # noqa: N801
    name = "card"
    allow_multiple = True
    defaults = {"type": "default", "id": None, "options": None, "timeout": 45, "save_errors": True,
                "customize": False, "refresh_interval": 1, "scope": "task", "rank": None}

    # -- before the run -------------------------------------------------------------------------
    def step_init(self, *, flow: Any, graph: Any, step_name: str) -> None:
        # Importing the card modules here puts them in the warm worker template: tasks fork
        # with them loaded instead of importing them one task at a time.
        from ..cards import collector, render, taskview  # noqa: F401
        from ..cards.base import UnknownCardType, card_class
        from ..datastore import cards, datastore  # noqa: F401

        a = self.attributes
        where = f"@card on step {step_name!r}"
        if not isinstance(a["type"], str) or not a["type"]:
            raise BadDecoratorArgument(f"{where}: type must be a card type name, e.g. type='blank'; got {a['type']!r}.")
        for flag in ("save_errors", "customize"):
            # ``--with card:customize=True`` arrives as text; Metaflow compares str(value) too.
            if str(a[flag]) in ("True", "False"):
                a[flag] = str(a[flag]) == "True"
            else:
                raise BadDecoratorArgument(f"{where}: {flag} must be True or False, got {a[flag]!r}.")
        try:
            card_class(a["type"])
        except UnknownCardType as exc:
            if a["save_errors"]:
                raise BadDecoratorArgument(f"{where}: {exc}") from None
            # save_errors=False asks that a card that cannot be made stay out of the way (as in
            # Metaflow, where a card module that fails to import leaves the run alone): say it
            # now, run, and each task's log says again that this card was not saved.
            print(f"[@card] warning: {where}: {exc} Its tasks will have no such card (save_errors=False).",
                  file=sys.stderr)
        if a["id"] is not None and (not isinstance(a["id"], str) or not _ID.match(a["id"])):
            raise BadDecoratorArgument(
                f"{where}: id must be a short name of letters, digits, '_', '-' or '.', got {a['id']!r}.")
        if a["options"] is not None and not isinstance(a["options"], dict):
            raise BadDecoratorArgument(f"{where}: options must be a dict, got {type(a['options']).__name__}.")
        t = a["timeout"]
        if isinstance(t, bool) or not isinstance(t, int | float) or t <= 0:
            raise BadDecoratorArgument(f"{where}: timeout must be a positive number of seconds, got {t!r}.")
        r = a["refresh_interval"]
        if isinstance(r, bool) or not isinstance(r, int | float) or r <= 0:
            raise BadDecoratorArgument(
                f"{where}: refresh_interval must be a positive number of seconds, got {r!r}.")
        if a["scope"] != "task":
            raise BadDecoratorArgument(
                f"{where}: scope={a['scope']!r} is not supported; cards belong to one task (scope='task').")
        if a["rank"] not in (None, "high", "medium", "low"):
            raise BadDecoratorArgument(f"{where}: rank must be 'high', 'medium' or 'low', got {a['rank']!r}.")
        if a["customize"]:
            chosen = [d for d in _cards_of(graph[step_name]) if str(d.attributes.get("customize")) == "True"]
            if len(chosen) > 1 and chosen[0] is self:
                # Metaflow warns and lets none of them win; say it once per step, before the run.
                print(f"[@card] warning: step {step_name!r} has {len(chosen)} cards with customize=True; "
                      "current.card.append() will not choose among them. Keep customize=True on one.",
                      file=sys.stderr)
        if a["id"] is not None:
            same = [d for d in _cards_of(graph[step_name]) if d.attributes.get("id") == a["id"]]
            if len(same) > 1:
                raise BadDecoratorArgument(
                    f"{where}: {len(same)} cards have id={a['id']!r}; give each card of a step its own id.")

    # -- in the task ------------------------------------------------------------------------------
    def task_pre_step(self, *, flow: Any, step_name: str, retry_count: int, max_retries: int) -> None:
        _collector(flow, step_name)

    def task_finished(self, *, flow: Any, step_name: str, retry_count: int, max_retries: int,
                      ok: bool, exception: dict | None) -> None:
        collector = _collector(flow, step_name)
        collector.state.update(status="succeeded" if ok else "failed", exception=exception,
                     finished_at=time.time())
        collector.finish(self)


def _cards_of(node: Any) -> list[card]:
    """The step's cards in the order they are written, top to bottom (``--with`` ones last)."""
    decos = [d for d in node.decorators if isinstance(d, card)]
    static = [d for d in decos if d.statically_defined]
    # Decorators apply bottom-up, so the list holds them in reverse of the source order.
    return list(reversed(static)) + [d for d in decos if not d.statically_defined]


def _collector(flow: Any, step_name: str) -> Any:
    """The task's ``current.card``, made on first use from every @card of the step."""
    from ..current import current

    existing = current.__dict__.get("_extra", {}).get("card")
    if existing is not None and getattr(existing, "flow", None) is flow:
        return existing
    from ..cards.base import card_class
    from ..cards.collector import CardCollector, CardSlot
    from ..datastore.datastore import open_datastore

    graph = flow.__dict__.get("_hw_graph")
    decos = _cards_of(graph[step_name]) if graph is not None else []
    slots = []
    for index, deco in enumerate(decos):
        kind = deco.attributes["type"]
        try:
            cls = card_class(kind)
            editable, live = cls.ALLOW_USER_COMPONENTS, cls.RUNTIME_UPDATABLE
        except LookupError:
            cls, editable, live = None, False, False
        slots.append(CardSlot(index, kind, deco.attributes["id"], editable, live, owner=deco, card_cls=cls,
                              interval=float(deco.attributes.get("refresh_interval") or 1),
                              customize=deco.attributes.get("customize") is True))
    directory = open_datastore(current._datastore_root).cards(
        current.flow_name, current.run_id, step_name, current.task_id, current._attempt)
    state: dict[str, Any] = {"status": "running", "exception": None, "finished_at": None,
                             "started_at": time.time()}

    def write(slot: Any, final: bool) -> None:
        _write_card(flow, slot, directory, state, final, graph)

    collector = CardCollector(slots, write, flow=flow, state=state)
    current._set_extra("card", collector)
    return collector


def _write_card(flow: Any, slot: Any, directory: Any, state: dict[str, Any], final: bool, graph: Any) -> None:
    """Render one card and store it; report, never raise."""
    from ..cards.base import error_page
    from ..cards.render import render_card
    from ..cards.taskview import TaskView
    from ..current import current

    deco = slot.owner
    save_errors = deco.attributes.get("save_errors", True) is not False
    task = TaskView(flow, pathspec=current.pathspec or "?/?/?/?", attempt=current._attempt or 0,
                    status=state["status"] if final else "running", started_at=state["started_at"],
                    finished_at=state["finished_at"] if final else None,
                    exception=state["exception"] if final else None,
                    parameter_names=list(current.parameter_names or []),
                    max_retries=current.max_retries or 0)
    try:
        if slot.card_cls is None:
            if not save_errors:
                _report_unsaved(task.pathspec, slot, final, f"unknown card type {slot.type!r}")
                return
            html = error_page(pathspec=task.pathspec, card_type=slot.type, card_id=slot.id, final=final,
                              headline=f"Unknown card type {slot.type!r}.",
                              detail="No subclass of CardBase with this type was found in the task's process.")
        else:
            html = render_card(
                slot.card_cls, task=task, options=dict(deco.attributes.get("options") or {}),
                components=slot.components if slot.editable else [],
                graph=graph.to_dict() if graph is not None else None,
                timeout=float(deco.attributes["timeout"]), card_type=slot.type, card_id=slot.id, final=final,
                on_error=None if save_errors else lambda why: _report_unsaved(task.pathspec, slot, final, why),
            )
            if html is None:
                return
        directory.write(slot.index, slot.type, slot.id, html, final=final)
    except Exception as exc:  # noqa: BLE001 - e.g. a full disk: say so, keep the task's outcome
        print(f"[@card] could not store card {slot.index} ({slot.type}) of {task.pathspec}: "
              f"{type(exc).__name__}: {exc}", file=sys.stderr)


def _report_unsaved(pathspec: str, slot: Any, final: bool, why: str) -> None:
    """``save_errors=False``: no error card; the task's stderr (its log) says what happened."""
    if not final:
        if slot.live_failed:
            return  # said at the first failed refresh; the final render reports again
        slot.live_failed = True
    name = f"card {slot.index} ({slot.type}" + (f", id={slot.id!r}" if slot.id else "") + ")"
    version = "its live update" if not final else "it"
    print(f"[@card] {name} of {pathspec} could not be rendered; {version} was not saved "
          f"(save_errors=False):\n{why}", file=sys.stderr)
