"""Render one card to HTML, within a time limit, never raising.

The card's code runs in a daemon thread; if it has not returned within ``timeout`` seconds,
or it raised, or it returned something other than a string, an error page (with the
traceback) takes the card's place. A string it returns is the card, exactly: a fragment is
stored as a fragment (as Metaflow stores it); only displays wrap it in a page. A thread left
running past its limit cannot delay the task: its result is dropped, and the task process
exits without waiting for it.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable

from .base import CardBase, error_page, make_card

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


def call_with_timeout(fn: Callable[[], str], timeout: float) -> tuple[str | None, BaseException | None, bool]:
    """``(result, exception, timed_out)`` of ``fn()`` run in a daemon thread."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the caller
            box["error"] = exc

    worker = threading.Thread(target=target, name="headwater-card-render", daemon=True)
    worker.start()
    worker.join(timeout if timeout and timeout > 0 else None)
    if worker.is_alive():
        return None, None, True
    return box.get("result"), box.get("error"), False


def render_card(cls: type[CardBase], *, task: Any, options: dict[str, Any], components: list[Any],
                graph: dict[str, Any] | None, timeout: float, card_type: str, card_id: str | None,
                final: bool, on_error: Callable[[str], None] | None = None) -> str | None:
    """The card's HTML, or an error page explaining why it could not be made.

    With ``on_error`` (``@card(save_errors=False)``) a failure is handed to it, with the
    traceback when there is one, and the result is None: no card.
    """

    def run() -> str:
        card = make_card(cls, options=options, components=components, graph=graph)
        return card.render(task) if final else card.render_runtime(task)

    result, error, timed_out = call_with_timeout(run, timeout)
    if on_error is not None:
        if timed_out:
            on_error(f"it did not finish rendering within its timeout of {timeout:g} seconds")
            return None
        if error is not None:
            on_error("".join(traceback.format_exception(type(error), error, error.__traceback__)).rstrip())
            return None
        if not isinstance(result, str):
            on_error(f"render() returned a {type(result).__name__}, not an HTML string")
            return None
    if timed_out:
        return error_page(
            pathspec=task.pathspec, card_type=card_type, card_id=card_id, final=final,
            headline=f"The card did not finish rendering within its timeout of {timeout:g} seconds.",
            detail="Make the card's render() faster, or raise the limit with @card(timeout=...).",
        )
    if error is not None:
        detail = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        return error_page(pathspec=task.pathspec, card_type=card_type, card_id=card_id, final=final,
                          headline=f"{type(error).__name__}: {error}", detail=detail)
    if not isinstance(result, str):
        return error_page(pathspec=task.pathspec, card_type=card_type, card_id=card_id, final=final,
                          headline=f"render() returned a {type(result).__name__}, not an HTML string.",
                          detail="A card's render(task) must return a str of HTML.")
    return result
