"""Cards: reports a step builds with a few lines of Python, stored as self-contained HTML.

    from headwater import FlowSpec, step, card, current
    from headwater.cards import Markdown, Table, Image, ProgressBar, get_cards

    @card                       # the default card: the task, its artifacts, the graph
    @step
    def train(self):
        current.card.append(Markdown("# Training"))

    get_cards("TrainFlow/12/train/5")[0].get()    # the HTML

Modules: ``components`` (the building blocks), ``base`` (card types, ``CardBase``),
``default_card``, ``collector`` (``current.card``), ``render`` (time limits, error cards),
``client`` (``get_cards``), ``preview``, ``markdown``, ``graph_svg``, ``vega``, ``html``.
Where cards are stored is the datastore's business (``headwater.datastore.cards``).
"""

from __future__ import annotations

from .base import BlankCard, CardBase
from .client import Card, get_cards
from .components import (
    Artifact,
    Component,
    Error,
    Image,
    Markdown,
    ProgressBar,
    PythonCode,
    Table,
    ValueBox,
    VegaChart,
)
from .default_card import DefaultCard

# Metaflow's names, so that `from metaflow.cards import ...` ports by changing the package.
MetaflowCard = CardBase
MetaflowCardComponent = Component

__all__ = [
    "Artifact",
    "BlankCard",
    "Card",
    "CardBase",
    "Component",
    "DefaultCard",
    "Error",
    "Image",
    "Markdown",
    "MetaflowCard",
    "MetaflowCardComponent",
    "ProgressBar",
    "PythonCode",
    "Table",
    "ValueBox",
    "VegaChart",
    "get_cards",
]
