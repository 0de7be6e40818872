"""The rules a tag must follow, checked by ``run --tag`` and by the client alike.

A tag is a non-empty string of at most 500 characters without control characters.
"""

from __future__ import annotations

from .exceptions import TagError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Iterable

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
