"""Where cards live: one self-contained HTML file per card, per task attempt.

    <root>/cards/<flow>/<run>/<step>/<task_id>/<attempt>/<index>.html
    <root>/cards/<flow>/<run>/<step>/<task_id>/<attempt>/index.json

``index.json`` lists the cards of the attempt in declaration order:
``[{"index": 0, "type": "default", "id": null, "file": "0.html", "updated_at": 1.7e9,
"final": true, "hash": "9f1c…"}, ...]``. A card's file holds exactly the text its
``render()`` returned (or the error page that stands in for it); wrapping a fragment in a
page for display is the reader's business (``cards.html.displayable``). ``hash`` is the
card's identifier, as in Metaflow: 32 random hex digits given when the card is first stored
and kept by every later version of it (a live card keeps one hash while it is rewritten), so
``card get --hash`` finds the card ``card list`` showed. Indexes written before hashes existed
have none; readers derive one from the attempt's place (flow/run/step/task/attempt, not the
root, so it is the same from any machine) and the card's index.
A live card is rewritten while the step runs (``final`` false) and once more at the end. Every write goes to a temporary file renamed into place, so a reader
never sees half a card. A :class:`CardFolder` comes from ``Datastore.cards(...)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid

INDEX = "index.json"


class CardInfo:
    """One card of an attempt, as listed in its index."""

    __slots__ = ("index", "type", "id", "file", "updated_at", "final", "hash")

    def __init__(self, index: int, type: str, id: str | None, file: str, updated_at: float,
                 final: bool, hash: str | None = None) -> None:
        self.index = index
        self.type = type
        self.id = id
        self.file = file
        self.updated_at = updated_at
        self.final = final
        self.hash = hash

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
        """Store one card's HTML as given and update the attempt's index.

        A card already in the index keeps its hash; a new one gets a fresh random one."""
        cards = {c.index: c for c in self.list()}
        earlier = cards.get(index)
        card_hash = earlier.hash if earlier is not None and earlier.hash else uuid.uuid4().hex
        info = CardInfo(index, card_type, card_id, f"{index}.html", time.time(), final, card_hash)
        self._atomic_write(info.file, html.encode("utf-8"))
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
        return [self.with_hash(CardInfo(**entry)) for entry in raw]

    def with_hash(self, info: CardInfo) -> CardInfo:
        """``info`` itself, given a stable hash if its index predates hashes."""
        if not info.hash:
            place = "/".join(self.path.replace(os.sep, "/").rstrip("/").split("/")[-5:])
            seed = f"{place}\0{info.index}".encode()
            info.hash = hashlib.sha1(seed, usedforsecurity=False).hexdigest()[:32]
        return info

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
