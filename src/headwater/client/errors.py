"""Errors of the client, all under ``ClientError`` so one ``except`` catches them.

    ClientError (headwater.exceptions)
    ├── ObjectNotFound       no such flow, run, step, task, attempt or artifact (also a KeyError)
    │   └── ArtifactNotFound no such artifact in ``task.data.x`` (also an AttributeError)
    ├── InvalidPathspec      a pathspec that cannot name anything, e.g. "A/B/C/D/E" (also a ValueError)
    ├── TagError             a tag that cannot be added, removed or replaced (also a ValueError)
    ├── InvalidMetadata      ``metadata(...)`` named a provider that is not there (also a ValueError)
    └── NamespaceMismatch    the object exists, but not in the current namespace

``ObjectNotFound`` subclasses ``KeyError`` so that ``run["nope"]`` behaves like a mapping, and
its message names what was asked and the closest existing names.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..exceptions import ClientError, NamespaceMismatch, TagError

__all__ = ["ArtifactNotFound", "ClientError", "InvalidMetadata", "InvalidPathspec", "NamespaceMismatch",
           "ObjectNotFound", "TagError"]


class ObjectNotFound(ClientError, KeyError):
    """Raised for a name that does not exist; ``except KeyError`` catches it too.

    >>> run["trian"]                                    # doctest: +SKIP
    ObjectNotFound: TrainFlow/12 has no step 'trian'. Did you mean: train?
    """

    headline = "Not found"


class ArtifactNotFound(ObjectNotFound, AttributeError):
    """``task.data.nope``: an AttributeError too, so ``hasattr`` and ``getattr(..., default)`` work."""


class InvalidPathspec(ClientError, ValueError):
    """A pathspec with the wrong number of parts, empty parts or a non-numeric id."""

    headline = "Invalid pathspec"


class InvalidMetadata(ClientError, ValueError):
    """``metadata(...)`` asked for the metadata service, or a folder with no datastore."""

    headline = "Invalid metadata provider"


def not_found(what: str, asked: str, existing: Iterable[str], *, hint: str = "",
              cls: type[ObjectNotFound] = ObjectNotFound) -> ObjectNotFound:
    """``ObjectNotFound`` naming ``asked`` and suggesting close matches from ``existing``."""
    import difflib

    names = sorted(set(existing))
    message = f"{what} {asked!r}."
    close = difflib.get_close_matches(asked, names, n=3, cutoff=0.6)
    if close:
        message += f" Did you mean: {', '.join(close)}?"
    elif names:
        shown = ", ".join(names[:10]) + (f", ... ({len(names)} in all)" if len(names) > 10 else "")
        message += f" Choose from: {shown}."
    if hint:
        message += f" {hint}"
    return cls(message)
