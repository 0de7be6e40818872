"""Reading cards back: ``get_cards(task)`` and the :class:`Card` objects it returns.

    >>> from headwater.cards import get_cards
    >>> cards = get_cards("TrainFlow/12/train/5")           # doctest: +SKIP
    >>> cards[0].type, cards[0].id, cards[0].hash, cards[0].path
    >>> html = cards[0].get()                              # exactly what render() returned
    >>> cards                                              # a notebook shows each card

A task shows the cards of the attempt the client ``Task`` shows (its latest, unless you ask
for ``Task(pathspec, attempt=n)``). A task cloned by ``resume`` shows its original's cards.
"""

from __future__ import annotations

import html
import tempfile
from datetime import datetime
from pathlib import Path

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

    from ..datastore.cards import CardFolder, CardInfo


class Card:
    """One stored card: ``id``, ``type``, ``hash``, ``index``, ``final``, ``updated_at``, ``path``,
    ``get()``."""

    def __init__(self, folder: CardFolder, info: CardInfo, pathspec: str, attempt: int) -> None:
        self._folder = folder
        self._info = info
        self.pathspec = pathspec
        self.attempt = attempt

    @property
    def id(self) -> str | None:
        return self._info.id

    @property
    def type(self) -> str:
        return self._info.type

    @property
    def hash(self) -> str:
        """The card's identifier (32 hex digits), as ``card list`` shows it and ``card get --hash``
        takes it (any leading part of it). As in Metaflow it is given when the card is first
        stored, not computed from its HTML, so a live card keeps it while it is rewritten."""
        return self._folder.with_hash(self._info).hash or ""

    @property
    def index(self) -> int:
        return self._info.index

    @property
    def final(self) -> bool:
        """False for a live card stored while its task was still running."""
        return self._info.final

    @property
    def updated_at(self) -> datetime:
        return datetime.fromtimestamp(self._info.updated_at)

    @property
    def path(self) -> str:
        """The card's HTML file."""
        return str(Path(self._folder.location) / Path(self._info.file).name)

    def get(self) -> str:
        """The card's HTML exactly as its render() returned it (re-read each time, so a live
        card shows its latest version). A fragment stays a fragment: see :meth:`page`."""
        return self._folder.read(self._info)

    def page(self) -> str:
        """The card as a whole HTML document: :meth:`get`, with a fragment put inside
        Headwater's page (what ``view()``, notebooks, ``card view`` and the UI show)."""
        from .html import displayable

        return displayable(self.get(), title=f"{self.pathspec} ({self.type})", kind=self.type,
                           final=self.final)

    def view(self) -> str:
        """Open the card in a web browser (from a copy in a temporary file); returns that file."""
        import webbrowser

        path = save_temp(self.page(), self.pathspec, self.index)
        webbrowser.open(Path(path).as_uri())
        return path

    def _repr_html_(self) -> str:
        doc = html.escape(self.page(), quote=True)
        return (f'<iframe title="card {self.index} of {html.escape(self.pathspec)}" srcdoc="{doc}" '
                'style="width:100%;height:640px;border:1px solid #d0d7de;border-radius:6px" '
                'sandbox="allow-scripts allow-popups allow-popups-to-escape-sandbox"></iframe>')

    def __repr__(self) -> str:
        ident = f", id={self.id!r}" if self.id else ""
        state = "" if self.final else ", live"
        return f"Card({self.pathspec!r}, index={self.index}, type={self.type!r}{ident}{state})"


class CardList(list):  # type: ignore[type-arg]
    """The cards of a task: a list that a notebook shows as the cards themselves."""

    def _repr_html_(self) -> str:
        return "".join(card._repr_html_() for card in self)


def get_cards(task: Any, id: str | None = None, type: str | None = None,
              follow_resumed: bool = True) -> CardList:
    """The cards of a task (a client ``Task`` or a ``"Flow/run/step/task"`` pathspec).

    ``id`` and ``type`` keep only matching cards. An empty list means the task has no cards
    (its step has no ``@card``, or it has not finished).
    """
    from ..client import Task

    if isinstance(task, str):
        task = Task(task, _namespace_check=False)
    elif not isinstance(task, Task):
        raise TypeError(f"get_cards() takes a Task or a pathspec string, not {type_name(task)}.")
    directory, infos = _find(task, follow_resumed)
    return CardList(
        Card(directory, info, task.pathspec, task.current_attempt) for info in infos
        if (id is None or info.id == id) and (type is None or info.type == type)
    )


def type_name(value: Any) -> str:
    cls = value.__class__
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def task_card_folder(task: Any) -> CardFolder:
    """The cards of the attempt a client ``Task`` shows."""
    flow, run, step, task_id = task.path_components
    return task._stores.datastore_for(flow, run).cards(flow, run, step, task_id, task.current_attempt)


def _find(task: Any, follow_resumed: bool) -> tuple[CardFolder, list[CardInfo]]:
    folder = task_card_folder(task)
    infos = folder.list()
    if not infos and follow_resumed:
        origin = task.origin_pathspec
        if origin:
            flow, run, step, task_id = origin.split("/")
            other = task._stores.datastore_for(flow, run).cards(flow, run, step, task_id, task.current_attempt)
            found = other.list()
            if found:
                return other, found
    return folder, infos


def save_temp(text: str, pathspec: str, index: int) -> str:
    """Write a card to a new temporary .html file and return its path."""
    prefix = "card-" + pathspec.replace("/", "-") + f"-{index}-"
    with tempfile.NamedTemporaryFile("w", suffix=".html", prefix=prefix, delete=False,
                                     encoding="utf-8") as f:
        f.write(text)
    return f.name
