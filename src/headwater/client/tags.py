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

from ..tags import MAX_TAG_LENGTH, validate_tag, validate_tags
from .errors import TagError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)

if TYPE_CHECKING:
    from .run import Run

__all__ = ["MAX_TAG_LENGTH", "change_tags", "validate_tag", "validate_tags"]


def change_tags(run: Run, *, add: Iterable[object] = (), remove: Iterable[object] = ()) -> None:
    """Add and remove user tags of ``run`` in one transaction, after checking every rule."""
    to_add = validate_tags(add, "tags to add")
    to_remove = validate_tags(remove, "tags to remove")
    if not to_add and not to_remove:
        return
    stores, flow, number = run._stores, run._flow, run._run
    system = {t for t, is_system in stores.reader.tags(flow, number) if is_system}
    protected = sorted(set(to_remove) & system)
    if protected:
        raise TagError(
            f"{', '.join(repr(t) for t in protected)} {'is a system tag' if len(protected) == 1 else 'are system tags'}"
            f" of {run.pathspec}; system tags are set by Headwater and cannot be removed or replaced."
        )
    with stores.writer() as md:
        md.change_tags(flow, number, add=to_add, remove=to_remove)
