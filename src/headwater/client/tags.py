"""Changing a run's user tags: the rules, and the one write the client makes.

A tag is a non-empty string of at most 500 characters without control characters. System
tags (``user:ana``, ``runtime:local``, ...) are set by Headwater and cannot be removed or
replaced; adding a tag that is already there does nothing. Replacing is one transaction.

    >>> run.add_tags(["experiment", "v2"])               # doctest: +SKIP
    >>> run.replace_tag("v2", "v3")
    >>> run.remove_tag("experiment")
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .errors import TagError
from .records import run_tags

if TYPE_CHECKING:
    from .run import Run

MAX_TAG_LENGTH = 500


def validate_tag(tag: object) -> str:
    """Return ``tag`` if it can be a tag, else raise ``TagError`` saying why."""
    if not isinstance(tag, str):
        raise TagError(f"a tag must be a string, not {type(tag).__name__} ({tag!r}).")
    if not tag.strip():
        raise TagError("a tag cannot be empty or only spaces.")
    if len(tag) > MAX_TAG_LENGTH:
        raise TagError(f"the tag {tag[:40]!r}... is {len(tag)} characters long; the limit is {MAX_TAG_LENGTH}.")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in tag):
        raise TagError(f"the tag {tag!r} contains control characters; use printable text.")
    return tag


def validate_tags(tags: Iterable[object], argument: str = "tags") -> list[str]:
    """Each tag validated; a lone string is refused (it would be split into letters)."""
    if isinstance(tags, str | bytes):
        raise TagError(f"{argument} must be a list of tags, not the single string {tags!r}; "
                       "use the *_tag() method for one tag, or wrap it in a list.")
    return [validate_tag(t) for t in tags]


def change_tags(run: Run, *, add: Iterable[object] = (), remove: Iterable[object] = ()) -> None:
    """Add and remove user tags of ``run`` in one transaction, after checking every rule."""
    to_add = validate_tags(add, "tags to add")
    to_remove = validate_tags(remove, "tags to remove")
    if not to_add and not to_remove:
        return
    stores, flow, number = run._stores, run._flow, run._run
    system = {t for t, is_system in run_tags(stores, flow, number) if is_system}
    protected = sorted(set(to_remove) & system)
    if protected:
        raise TagError(
            f"{', '.join(repr(t) for t in protected)} {'is a system tag' if len(protected) == 1 else 'are system tags'}"
            f" of {run.pathspec}; system tags are set by Headwater and cannot be removed or replaced."
        )
    with stores.writer() as md:
        md.change_tags(flow, number, add=to_add, remove=to_remove)
