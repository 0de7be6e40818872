"""Card types: :class:`CardBase`, the built-in ``blank`` card, and finding a type by name.

A card type is a subclass of :class:`CardBase` with a ``type`` name and a
``render(task) -> str`` method returning HTML: a whole document, or a fragment. The card is
stored exactly as returned (``Card.get()`` and ``card get`` give it back unchanged); the UI,
``card view`` and notebooks show a fragment inside Headwater's page::

    from headwater.cards import CardBase

    class LossCard(CardBase):
        type = "loss"

        def render(self, task):
            return f"<h1>final loss {task.data.loss:.3f}</h1>"

    @card(type="loss")
    @step
    def train(self): ...

``@card(type=...)`` finds the class among every imported subclass (defining it in the flow
file is enough) and among the entry points of the group ``headwater.cards``, so a package
can ship card types: ``[project.entry-points."headwater.cards"] loss = "mypkg.cards:LossCard"``
(an entry point may also name a list of classes, or a module with a ``CARDS`` list).
Built-in types come first and cannot be replaced.
"""

from __future__ import annotations

import difflib
import inspect
import sys
from functools import lru_cache

from .components import render_components
from .html import escape, page

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any, ClassVar

ENTRY_POINT_GROUP = "headwater.cards"


class CardBase:
    """Base of card types. ``options`` comes from ``@card(options=...)``; ``components`` holds
    what the step appended (only when ``ALLOW_USER_COMPONENTS``); ``graph`` is the flow's
    graph as a dict. ``render(task)`` gets a :class:`~headwater.cards.taskview.TaskView`.
    """

    type: ClassVar[str | None] = None
    ALLOW_USER_COMPONENTS: ClassVar[bool] = False  # may current.card.append() add to it?
    RUNTIME_UPDATABLE: ClassVar[bool] = False  # re-rendered by current.card.refresh()?

    def __init__(self, options: dict[str, Any] | None = None, components: list[Any] | None = None,
                 graph: dict[str, Any] | None = None) -> None:
        self.options = dict(options or {})
        self.components = components if components is not None else []
        self.graph = graph

    def render(self, task: Any) -> str:
        """The card's HTML for the finished task."""
        raise NotImplementedError(f"card type {self.type!r} must define render(self, task) -> str")

    def render_runtime(self, task: Any) -> str:
        """The card's HTML while the task runs (``current.card.refresh()``); defaults to render()."""
        return self.render(task)

    def render_components(self) -> str:
        """HTML of the appended components, each isolated: one that fails shows its error."""
        return render_components(self.components)


class BlankCard(CardBase):
    """Only the components the step appended, nothing else."""

    type = "blank"
    ALLOW_USER_COMPONENTS = True
    RUNTIME_UPDATABLE = True

    def render(self, task: Any) -> str:
        title = self.options.get("title") or task.pathspec
        body = self.render_components() or '<p class="muted">No components were added to this card.</p>'
        return page(str(title), body, final=task.finished, kind=self.type or "")


def builtin_types() -> dict[str, type[CardBase]]:
    from .default_card import DefaultCard

    return {"default": DefaultCard, "blank": BlankCard}


def _subclasses() -> list[type[CardBase]]:
    """Every subclass of CardBase alive in this process, except those of a module whose import
    failed (Python drops the module, but its classes live on until garbage is collected)."""
    found: list[type[CardBase]] = []
    todo = list(CardBase.__subclasses__())
    while todo:
        cls = todo.pop(0)
        if cls not in found:
            if cls.__module__ in sys.modules:
                found.append(cls)
            todo.extend(cls.__subclasses__())
    return found


@lru_cache(maxsize=1)
def _entry_point_types() -> tuple[type[CardBase], ...]:
    from importlib.metadata import entry_points

    found: list[type[CardBase]] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as exc:  # noqa: BLE001 - one broken package must not hide the others
            print(f"[@card] warning: cannot load card types from entry point {ep.name!r} "
                  f"({ep.value}): {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        if inspect.ismodule(obj):
            obj = getattr(obj, "CARDS", [])
        items = obj if isinstance(obj, list | tuple) else [obj]
        found.extend(c for c in items if inspect.isclass(c) and issubclass(c, CardBase))
    return tuple(found)


def _first_of(name: str, classes: list[type[CardBase]] | tuple[type[CardBase], ...]) -> type[CardBase] | None:
    return next((c for c in classes if c.type == name), None)


def card_types() -> dict[str, type[CardBase]]:
    """Every known card type by name: built-in, then imported subclasses, then entry points."""
    types = dict(builtin_types())
    for cls in [*_subclasses(), *_entry_point_types()]:
        if isinstance(cls.type, str) and cls.type and cls.type not in types:
            types[cls.type] = cls
    return types


class UnknownCardType(LookupError):
    pass


def card_class(name: str) -> type[CardBase]:
    """The class of card type ``name``; entry points are read only when nothing imported has it."""
    found = builtin_types().get(name) or _first_of(name, _subclasses()) or _first_of(name, _entry_point_types())
    if found is not None:
        return found
    types = card_types()
    close = difflib.get_close_matches(name, types, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownCardType(
        f"unknown card type {name!r}.{hint} Known types: {', '.join(sorted(types))}. A custom "
        f"type is a subclass of headwater.cards.CardBase with type = {name!r}, defined or "
        f"imported in the flow file, or registered under the entry point group {ENTRY_POINT_GROUP!r}."
    )


def make_card(cls: type[CardBase], *, options: dict[str, Any], components: list[Any],
              graph: dict[str, Any] | None) -> CardBase:
    """An instance, passing only the constructor arguments the class accepts."""
    offered = {"options": options, "components": components, "graph": graph}
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return cls(**offered)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return cls(**offered)
    return cls(**{k: v for k, v in offered.items() if k in params})


def error_page(*, pathspec: str, card_type: str, card_id: str | None, headline: str, detail: str,
               final: bool = True) -> str:
    """What stands in for a card that could not be rendered."""
    which = f"type {card_type!r}" + (f", id {card_id!r}" if card_id else "")
    body = (f"<h1>Card could not be rendered</h1><p class=\"subtitle\">{escape(pathspec)} · {escape(which)}</p>"
            f'<div class="error"><div class="headline">{escape(headline)}</div>'
            f"<pre>{escape(detail)}</pre></div>"
            '<p class="note">The task itself was not affected by this error.</p>')
    return page(f"Card error: {pathspec}", body, final=final, kind="error")
