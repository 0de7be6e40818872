"""How metadata calls and answers cross the metadata service's HTTP API: JSON, with the
reader's rows, tuples and integer-keyed maps kept as what they were.

``encode`` turns a value into JSON-ready data, ``decode`` turns it back: a row namedtuple
becomes ``{"$row": "RunRow", "v": [...]}``, a plain tuple ``{"$t": [...]}``, a dict whose keys
are not all strings ``{"$map": [[k, v], ...]}``. Only the row classes of ``records.py`` and
``summaries.py`` are rebuilt, so an answer can never name an arbitrary class.
"""

from __future__ import annotations

from enum import Enum

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

_ROWS: dict[str, type] = {}


def _rows() -> dict[str, type]:
    if not _ROWS:
        from . import records, summaries

        for module in (records, summaries):
            for name in dir(module):
                value = getattr(module, name)
                if isinstance(value, type) and issubclass(value, tuple) and hasattr(value, "_fields"):
                    _ROWS[name] = value
    return _ROWS


def encode(value: Any) -> Any:
    """``value`` as JSON-ready data (see the module's docstring)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, tuple):
        name = type(value).__name__
        if hasattr(value, "_fields") and name in _rows():
            return {"$row": name, "v": [encode(v) for v in value]}
        return {"$t": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: encode(v) for k, v in value.items()}
        return {"$map": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        return [encode(v) for v in value]
    raise TypeError(f"cannot send a {type(value).__name__} to the metadata service")


def decode(value: Any) -> Any:
    """What :func:`encode` was given."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "$row" in value:
            cls = _rows().get(value["$row"])
            if cls is None:
                raise ValueError(f"unknown row type {value['$row']!r}")
            return cls(*(decode(v) for v in value["v"]))
        if "$t" in value:
            return tuple(decode(v) for v in value["$t"])
        if "$map" in value:
            return {_key(decode(k)): decode(v) for k, v in value["$map"]}
        return {k: decode(v) for k, v in value.items()}
    return value


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
