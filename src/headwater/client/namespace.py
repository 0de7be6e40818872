"""Namespaces: which runs the client shows.

A namespace is a tag. Every run carries the system tag ``user:<name>`` of whoever started it,
and the default namespace is ``user:<you>``, so by default you see your own runs. Tags such as
``production:...`` or any user tag work the same way. ``namespace(None)`` shows every run.

    >>> from headwater import namespace, get_namespace, default_namespace
    >>> namespace("user:bob")                           # doctest: +SKIP
    'user:bob'
    >>> namespace(None)                                  # everything   # doctest: +SKIP
    >>> default_namespace()                              # back to you  # doctest: +SKIP
    'user:ana'

The namespace is process-wide. Until ``namespace()`` is called, the default follows the current
user (``HEADWATER_USER``, ``USER`` or ``USERNAME``), read each time it is needed.
"""

from __future__ import annotations

from ..exceptions import NamespaceMismatch
from ..user import current_user

_FOLLOW_USER = object()  # no explicit choice: the default namespace of the current user
_namespace: object = _FOLLOW_USER


def namespace(ns: str | None) -> str | None:
    """Switch the namespace to the tag ``ns`` (``None`` shows every run); return it.

    >>> namespace("user:bob")                           # doctest: +SKIP
    'user:bob'
    """
    global _namespace
    if ns is not None and (not isinstance(ns, str) or not ns.strip()):
        raise ValueError(
            f"a namespace is a tag such as 'user:ana', or None for every run; got {ns!r}."
        )
    _namespace = ns
    return ns


def get_namespace() -> str | None:
    """The current namespace: a tag such as ``'user:ana'``, or ``None`` for every run."""
    if _namespace is _FOLLOW_USER:
        return f"user:{current_user()}"
    return _namespace  # type: ignore[return-value]


def default_namespace() -> str:
    """Go back to the default namespace, ``user:<you>``, and return it."""
    global _namespace
    _namespace = _FOLLOW_USER
    return f"user:{current_user()}"


def mismatch(pathspec: str, current: str, tags: list[tuple[str, bool]]) -> NamespaceMismatch:
    """The error for an object that exists in another namespace, saying how to reach it."""
    users = [t for t, system in tags if system and t.startswith("user:")]
    where = f" It is in namespace {users[0]!r}." if users else ""
    switch = f"namespace({users[0]!r}) or " if users else ""
    return NamespaceMismatch(
        f"{pathspec} is not in the current namespace {current!r}.{where} "
        f"Switch with {switch}namespace(None) to see every run."
    )
