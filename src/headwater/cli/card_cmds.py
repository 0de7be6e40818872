"""``python flow.py card get|view|list``: the cards of a task."""

from __future__ import annotations

import click


def add_card_commands(cli: click.Group, flow_cls: type) -> None:
    """Registers the ``card`` group (filled in by the cards module)."""
