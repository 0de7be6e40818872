"""Where cards live: one self-contained HTML file per card, per task attempt.

    <root>/cards/<flow>/<run>/<step>/<task_id>/<attempt>/<index>.html
    <root>/cards/<flow>/<run>/<step>/<task_id>/<attempt>/index.json

``index.json`` lists the cards of the attempt in declaration order:
``[{"index": 0, "type": "default", "id": null, "file": "0.html", "updated_at": 1.7e9,
"final": true}, ...]``. A live card is rewritten while the step runs (``final`` false) and
once more at the end. Every write goes to a temporary file renamed into place, so a reader
never sees half a card.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class CardInfo:
    index: int
    type: str
    id: str | None
    file: str
    updated_at: float
    final: bool


def card_dir(root: str | Path, flow: str, run: str | int, step: str, task_id: str | int, attempt: int) -> Path:
    return Path(root) / "cards" / flow / str(run) / step / str(task_id) / str(attempt)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_card(directory: Path, index: int, card_type: str, card_id: str | None, html: str,
               *, final: bool) -> CardInfo:
    """Store one card's HTML and update the attempt's index."""
    info = CardInfo(index, card_type, card_id, f"{index}.html", time.time(), final)
    _atomic_write(directory / info.file, html.encode("utf-8"))
    cards = {c.index: c for c in list_cards(directory)}
    cards[index] = info
    body = json.dumps([asdict(c) for c in sorted(cards.values(), key=lambda c: c.index)])
    _atomic_write(directory / "index.json", body.encode("utf-8"))
    return info


def list_cards(directory: Path) -> list[CardInfo]:
    try:
        raw = json.loads((directory / "index.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return []
    return [CardInfo(**entry) for entry in raw]


def read_card(directory: Path, info: CardInfo) -> str:
    """The card's HTML; raises FileNotFoundError if the file is missing."""
    name = os.path.basename(info.file)  # never follow a path out of the attempt's directory
    return (directory / name).read_text(encoding="utf-8")
