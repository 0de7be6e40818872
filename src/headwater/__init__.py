"""Headwater: write a project as a flow of steps; run it, inspect it, resume it, scale it.

    from headwater import FlowSpec, step, Parameter, current

The names below are loaded on first use, so ``import headwater`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module

__version__ = "0.1.0"

# Imported eagerly (it is tiny) so that `headwater.current` is always the object, never the
# submodule of the same name.
from .current import current  # noqa: E402, F401

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

_EXPORTS: dict[str, str] = {
    # flow model
    "FlowSpec": "headwater.flowspec",
    "step": "headwater.decorators",
    "StepDecorator": "headwater.decorators",
    "Parameter": "headwater.parameters",
    "JSONType": "headwater.parameters",
    "IncludeFile": "headwater.parameters",
    "Config": "headwater.configs",
    "config_expr": "headwater.configs",
    # step decorators
    "retry": "headwater.plugins.retry",
    "catch": "headwater.plugins.catch",
    "timeout": "headwater.plugins.timeout",
    "resources": "headwater.plugins.resources",
    "environment": "headwater.plugins.environment",
    "card": "headwater.plugins.card",
    "get_cards": "headwater.cards",
    # client
    "Metaflow": "headwater.client",
    "Flow": "headwater.client",
    "Run": "headwater.client",
    "Step": "headwater.client",
    "Task": "headwater.client",
    "DataArtifact": "headwater.client",
    "namespace": "headwater.client",
    "get_namespace": "headwater.client",
    "default_namespace": "headwater.client",
    # errors
    "HeadwaterException": "headwater.exceptions",
}

__all__ = sorted([*_EXPORTS, "current"]) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'headwater' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
