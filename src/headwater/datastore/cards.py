"""Where cards live: one self-contained HTML file per card, per task attempt.

    <root>/cards/<flow>/<run>/<step>/<task_id>/<attempt>/<index>.html
    <root>/cards/<flow>/<run>/<step>/<task_id>/<attempt>/index.json

``index.json`` lists the cards of the attempt in declaration order:
``[{"index": 0, "type": "default", "id": null, "file": "0.html", "updated_at": 1.7e9,
"final": true}, ...]``. A live card is rewritten while the step runs (``final`` false) and
once more at the end. Every write goes to a temporary file renamed into place, so a reader
never sees half a card. A :class:`CardFolder` comes from ``Datastore.cards(...)``.
"""

from __future__ import annotations

import json
import os
import time

INDEX = "index.json"


class CardInfo:
    """One card of an attempt, as listed in its index."""

    __slots__ = ("index", "type", "id", "file", "updated_at", "final")

    def __init__(self, index: int, type: str, id: str | None, file: str, updated_at: float,
                 final: bool) -> None:
        self.index = index
        self.type = type
        self.id = id
        self.file = file
        self.updated_at = updated_at
        self.final = final

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CardInfo) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return f"CardInfo({self.as_dict()!r})"


class CardFolder:
    """The cards of one attempt. Names read from the index are reduced to their base name,
    so nothing outside the attempt's folder is ever opened."""

    def __init__(self, path: str) -> None:
        self.path = path

    @property
    def location(self) -> str:
        return self.path

    def write(self, index: int, card_type: str, card_id: str | None, html: str, *,
              final: bool) -> CardInfo:
        """Store one card's HTML and update the attempt's index."""
        info = CardInfo(index, card_type, card_id, f"{index}.html", time.time(), final)
        self._atomic_write(info.file, html.encode("utf-8"))
        cards = {c.index: c for c in self.list()}
        cards[index] = info
        body = json.dumps([c.as_dict() for c in sorted(cards.values(), key=lambda c: c.index)])
        self._atomic_write(INDEX, body.encode("utf-8"))
        return info

    def index_text(self) -> str:
        """The raw index; raises FileNotFoundError (or another OSError) when unreadable."""
        with open(os.path.join(self.path, INDEX), encoding="utf-8") as f:
            return f.read()

    def list(self) -> list[CardInfo]:
        """The cards in order; empty when there are none or the index is unreadable."""
        try:
            raw = json.loads(self.index_text())
        except (OSError, ValueError):
            return []
        return [CardInfo(**entry) for entry in raw]

    def has(self, name: str) -> bool:
        return os.path.isfile(os.path.join(self.path, os.path.basename(str(name))))

    def read(self, info: CardInfo) -> str:
        """The card's HTML; raises FileNotFoundError if the file is missing."""
        with open(os.path.join(self.path, os.path.basename(str(info.file))), encoding="utf-8") as f:
            return f.read()

    def _atomic_write(self, name: str, data: bytes) -> None:
        import tempfile

        os.makedirs(self.path, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, os.path.join(self.path, name))
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
