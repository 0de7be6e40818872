"""A task attempt's cards: which there are, and each one's HTML for its sandboxed frame.

Cards are read through the datastore (``Datastore.cards(...)``, ``datastore/cards.py``): the
folder comes from validated path parts, and a card's file name from the attempt's index is
reduced to its base name, so nothing outside the attempt's cards is ever opened.

A card is shown in ``<iframe sandbox="allow-scripts">`` (never ``allow-same-origin``) from its
own URL, served with ``security.CARD_CSP``: its scripts run in an opaque origin and cannot
touch the UI, its cookies or the network. When the card allows scripts, a short one added at
its end tells the page its height, so the frame fits the card; a card whose own policy forbids
scripts (Headwater's built-in cards do) keeps the frame's default height, which the reader can
drag taller, and has an "open" link to view it alone.

A card is stored exactly as its ``render()`` returned it; a fragment is served inside
Headwater's card page (``cards.html.displayable``), as it was shown before it was stored raw.

A missing, empty or undecodable card file, or an index that cannot be read, becomes a
sentence in place of the card.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from ..cards.html import displayable
from ..datastore.cards import INDEX, CardFolder, CardInfo

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    pass

RESIZE = ("<script>(function(){var i=%d;function s(){try{parent.postMessage({headwaterCard:i,"
          "height:Math.max(document.documentElement.scrollHeight,document.body?document.body."
          "scrollHeight:0)},'*')}catch(e){}}addEventListener('load',s);setTimeout(s,50);"
          "setTimeout(s,500);if(window.ResizeObserver){new ResizeObserver(s).observe("
          "document.documentElement)}})();</script>")


@dataclass
class Card:
    info: CardInfo
    problem: str | None = None  # why it cannot be shown

    @property
    def title(self) -> str:
        return self.info.id or f"Card {self.info.index + 1}"


def list_for(folder: CardFolder) -> tuple[list[Card], str | None]:
    """The attempt's cards in order, and a problem with the index itself if there is one."""
    try:
        raw = folder.index_text()
    except (FileNotFoundError, NotADirectoryError):
        return [], None
    except (OSError, UnicodeDecodeError) as exc:
        return [], f"The list of cards ({INDEX}) cannot be read: {exc}."
    try:
        entries = json.loads(raw)
        infos = [CardInfo(**entry) for entry in entries]
        for info in infos:
            int(info.index)
    except (ValueError, TypeError) as exc:
        return [], f"The list of cards ({INDEX}) is corrupted: {type(exc).__name__}."
    cards = []
    for info in infos:
        name = os.path.basename(str(info.file))
        problem = None if folder.has(name) else "This card's file is missing."
        cards.append(Card(info, problem))
    return cards, None


def html_of(folder: CardFolder, index: int) -> tuple[str | None, str]:
    """``(html, "")`` for card ``index`` with the resize script added, or ``(None, why)``."""
    cards, problem = list_for(folder)
    if problem:
        return None, problem
    card = next((c for c in cards if int(c.info.index) == index), None)
    if card is None:
        return None, f"There is no card {index} for this attempt."
    try:
        text = folder.read(card.info)
    except (FileNotFoundError, NotADirectoryError):
        return None, "This card's file is missing."
    except UnicodeDecodeError:
        return None, "This card's file is corrupted (it is not UTF-8 text)."
    except OSError as exc:
        return None, f"This card's file cannot be read: {exc}."
    if not text.strip():
        return None, "This card's file is empty."
    text = displayable(text, title=f"{folder_label(folder)} ({card.info.type})", kind=str(card.info.type),
                       final=bool(card.info.final))
    if "content-security-policy" in text[:4096].lower():
        return text, ""  # its own policy decides about scripts; ours would only be refused
    return text + RESIZE % index, ""


def folder_label(folder: CardFolder) -> str:
    """``flow/run/step/task`` of an attempt's card folder (its path ends with them and the attempt)."""
    parts = folder.path.replace(os.sep, "/").rstrip("/").split("/")
    return "/".join(parts[-5:-1])


def message_page(text: str) -> str:
    """What a frame shows instead of a card that cannot be displayed."""
    from .html import h

    return ("<!doctype html><meta charset=\"utf-8\"><body style=\"font:14px system-ui,sans-serif;"
            f"color:#9a3412;margin:12px\">{h(text)}</body>")
