"""``current.card``: collect components for a task's cards, and refresh live cards.

    current.card.append(Markdown("# Report"))       # the step's default editable card
    current.card["plots"].append(Image(png))        # the card with @card(id="plots")
    current.card.get(type="blank")                  # the component lists of the blank cards
    current.card.refresh()                          # re-render live cards now

Which card ``append`` goes to (Metaflow's rule): a card is *editable* when its type accepts
components (``default``, ``blank``; custom types that set ``ALLOW_USER_COMPONENTS``). The
only editable card, else the only editable card without an ``id``, receives ``append``;
otherwise ``append`` warns and does nothing. Nothing here ever raises into the step: a
component sent nowhere is reported once on stderr.

``refresh()`` writes the live cards (``final`` false in the index) at most once per card's
``refresh_interval`` (one second unless ``@card(refresh_interval=...)`` says otherwise); a
refresh asked for sooner is done by a timer when the interval is up, so the last state always
shows. The final render, when the task ends, cancels any pending refresh.

``@card(customize=True)`` makes that editable card the one ``append`` goes to, whatever the
other cards of the step (Metaflow's rule; with several ``customize=True`` none wins).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

MIN_INTERVAL = 1.0


@dataclass(eq=False)
class CardSlot:
    """One ``@card`` of the running task."""

    index: int
    type: str
    id: str | None
    editable: bool
    live: bool
    owner: Any = None  # the decorator instance
    card_cls: Any = None  # its CardBase subclass (None: the type is unknown in this process)
    components: list[Any] = field(default_factory=list)
    done: bool = False
    interval: float = MIN_INTERVAL  # seconds between two live renders (@card(refresh_interval))
    customize: bool = False  # @card(customize=True): the default target of append
    last: float = float("-inf")  # monotonic time of the last live render
    live_failed: bool = False  # a live render failed unsaved (said once, not per refresh)


class ComponentList:
    """The components of one card: ``append``, ``extend``, ``clear``, ``refresh``, and list reading."""

    def __init__(self, collector: CardCollector, slot: CardSlot | None, problem: str = "") -> None:
        self._collector = collector
        self._slot = slot
        self._problem = problem

    def _target(self) -> list[Any] | None:
        if self._slot is None:
            self._collector._warn(self._problem, self._problem)
            return None
        return self._slot.components

    def append(self, component: Any) -> None:
        target = self._target()
        if target is not None:
            target.append(component)

    def extend(self, components: Iterable[Any]) -> None:
        target = self._target()
        if target is not None:
            target.extend(components)

    def clear(self) -> None:
        target = self._target()
        if target is not None:
            target.clear()

    def refresh(self, data: Any = None) -> None:
        if self._slot is not None:
            self._collector._request([self._slot])

    @property
    def components(self) -> list[Any]:
        return list(self._slot.components) if self._slot else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.components)

    def __len__(self) -> int:
        return len(self._slot.components) if self._slot else 0

    def __getitem__(self, i: int) -> Any:
        return self.components[i]

    def __repr__(self) -> str:
        where = f"card {self._slot.index}" if self._slot else "no card"
        return f"<components of {where}: {len(self)}>"


class CardCollector:
    """What ``current.card`` is during a task with at least one ``@card``."""

    def __init__(self, slots: list[CardSlot], write: Callable[[CardSlot, bool], None], *,
                 flow: Any = None, state: dict[str, Any] | None = None) -> None:
        self.flow = flow  # the task's flow object (tells a stale collector from this task's)
        self.state = state if state is not None else {}  # the task's status and times, for renders
        self._slots = slots
        self._write = write  # renders and stores one card; never raises
        self._lock = threading.RLock()
        self._pending: set[int] = set()
        self._timer: threading.Timer | None = None
        self._closed = False
        self._warned: set[str] = set()
        self._default = _default_editable(slots)

    # -- the default editable card -----------------------------------------------------------
    def _default_list(self, verb: str) -> ComponentList:
        if self._default is not None:
            return ComponentList(self, self._default)
        editable = [s for s in self._slots if s.editable]
        if not editable:
            kinds = ", ".join(repr(s.type) for s in self._slots)
            problem = (f"current.card.{verb}(): no card of this step shows components (its cards are "
                       f"of type {kinds}); add @card or @card(type='blank') to the step.")
        else:
            problem = (f"current.card.{verb}(): this step has several cards that show components; "
                       "give each @card an id= and use current.card['<id>'].append(...).")
        return ComponentList(self, None, problem)

    def append(self, component: Any) -> None:
        self._default_list("append").append(component)

    def extend(self, components: Iterable[Any]) -> None:
        self._default_list("extend").extend(components)

    def clear(self) -> None:
        self._default_list("clear").clear()

    @property
    def components(self) -> list[Any]:
        return self._default.components if self._default else []

    def __getitem__(self, card_id: str) -> ComponentList:
        matches = [s for s in self._slots if s.id == card_id]
        if not matches:
            ids = [s.id for s in self._slots if s.id]
            known = f"its card ids are: {', '.join(map(repr, ids))}" if ids else "none of its cards has an id"
            return ComponentList(self, None, f"current.card[{card_id!r}]: this step has no @card(id={card_id!r}); "
                                             f"{known}. The components are dropped.")
        slot = matches[0]
        if not slot.editable:
            return ComponentList(self, None, f"current.card[{card_id!r}]: a card of type {slot.type!r} does not "
                                             "show appended components; they are dropped.")
        return ComponentList(self, slot)

    def get(self, type: str | None = None, id: str | None = None) -> list[ComponentList]:
        """The component lists of this step's cards of ``type`` (and ``id``), in source order
        (Metaflow's ``current.card.get``); an empty list when none matches."""
        return [ComponentList(self, s) if s.editable else ComponentList(
                    self, None, f"current.card.get(type={s.type!r}): a card of this type does not "
                                "show appended components; they are dropped.")
                for s in self._slots
                if (type is None or s.type == type) and (id is None or s.id == id)]

    def __setitem__(self, card_id: str, components: Iterable[Any]) -> None:
        target = self[card_id]
        target.clear()
        target.extend(components)

    # -- live cards -----------------------------------------------------------------------------
    def refresh(self, data: Any = None) -> None:
        """Re-render this step's live cards now, or as soon as a second has passed since the last."""
        self._request([s for s in self._slots if s.live])

    def _request(self, slots: list[CardSlot]) -> None:
        with self._lock:
            if self._closed:
                return
            self._pending.update(s.index for s in slots if s.live and not s.done)
            self._flush()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
            if not self._closed:
                self._flush()

    def _flush(self) -> None:
        """Render the pending cards whose interval is up; a timer takes the others later."""
        now = time.monotonic()
        later: list[float] = []
        for slot in self._slots:
            if slot.index not in self._pending:
                continue
            if slot.done:
                self._pending.discard(slot.index)
            elif now - slot.last >= slot.interval:
                self._pending.discard(slot.index)
                slot.last = now
                self._write(slot, False)
            else:
                later.append(slot.last + slot.interval - now)
        if later and self._timer is None:
            self._timer = threading.Timer(min(later), self._on_timer)
            self._timer.daemon = True
            self._timer.start()

    # -- the end ------------------------------------------------------------------------------
    def finish(self, owner: Any) -> None:
        """Stop live refreshes and store the final version of ``owner``'s card."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            for slot in self._slots:
                if slot.owner is owner and not slot.done:
                    slot.done = True
                    self._write(slot, True)

    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            print(f"[@card] warning: {message}", file=sys.stderr)

    def __repr__(self) -> str:
        cards = ", ".join(f"{s.type}" + (f"[{s.id}]" if s.id else "") for s in self._slots)
        return f"<current.card: {cards}>"


def _default_editable(slots: list[CardSlot]) -> CardSlot | None:
    editable = [s for s in slots if s.editable]
    chosen = [s for s in editable if s.customize]
    if len(chosen) == 1:
        return chosen[0]
    if len(editable) == 1:
        return editable[0]
    without_id = [s for s in editable if s.id is None]
    return without_id[0] if len(without_id) == 1 else None
