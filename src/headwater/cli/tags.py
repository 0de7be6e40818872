"""Rules for user tags, shared by ``run --tag``, ``tag add`` and the client."""

from __future__ import annotations

from collections.abc import Iterable

from ..exceptions import CommandError

MAX_TAG_LENGTH = 500
SYSTEM_PREFIXES = ("user:", "runtime:", "python_version:", "headwater_version:", "origin_run:")


def validate_tags(tags: Iterable[object]) -> None:
    for tag in tags:
        if not isinstance(tag, str):
            raise CommandError(f"a tag must be a string, not {type(tag).__name__} ({tag!r}).")
        if not tag.strip():
            raise CommandError("a tag cannot be empty.")
        if len(tag) > MAX_TAG_LENGTH:
            raise CommandError(f"the tag {tag[:40]!r}... is {len(tag)} characters long; the limit is {MAX_TAG_LENGTH}.")
        if any(ord(c) < 32 for c in tag):
            raise CommandError(f"the tag {tag!r} contains control characters; use printable text.")
