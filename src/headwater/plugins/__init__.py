"""Step decorators and integrations, each in its own module, loaded by name when used.

``--with retry:times=2`` and ``HEADWATER_DEFAULT_DECOSPECS`` name decorators by these keys.
"""

from __future__ import annotations

import ast
from importlib import import_module

from ..exceptions import CommandError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

STEP_DECORATORS = {
    "retry": "headwater.plugins.retry:retry",
    "catch": "headwater.plugins.catch:catch",
    "timeout": "headwater.plugins.timeout:timeout",
    "resources": "headwater.plugins.resources:resources",
    "environment": "headwater.plugins.environment:environment",
    "card": "headwater.plugins.card:card",
    "secrets": "headwater.plugins.secrets:secrets",
    "ray": "headwater.plugins.ray:ray",
    "parallel": "headwater.plugins.parallel:parallel",
}


def decorator_class(name: str) -> Any:
    if name not in STEP_DECORATORS:
        import difflib

        close = difflib.get_close_matches(name, STEP_DECORATORS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise CommandError(f"unknown decorator {name!r} in --with.{hint} Known: {', '.join(STEP_DECORATORS)}.")
    module, _, attr = STEP_DECORATORS[name].partition(":")
    return getattr(import_module(module), attr)


def decorator_from_spec(spec: str) -> Any:
    """``"retry:times=2,minutes_between_retries=0"`` -> a ``retry`` decorator instance."""
    name, _, args = spec.partition(":")
    kwargs: dict[str, Any] = {}
    for part in filter(None, args.split(",")):
        key, sep, raw = part.partition("=")
        if not sep:
            raise CommandError(f"--with {spec}: arguments are written key=value, got {part!r}.")
        try:
            kwargs[key.strip()] = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            kwargs[key.strip()] = raw.strip()
    name = name.strip()
    user_cls = None
    if name not in STEP_DECORATORS:
        # A user decorator by import path (``--with mymodule.my_deco:x=1``), or by the name of
        # one the flow's code imported (``--with my_deco``), as in Metaflow.
        from ..mutators import find_user_class

        user_cls = find_user_class(name)
    if name not in STEP_DECORATORS and (user_cls is not None or "." in name):
        if user_cls is None:
            raise CommandError(f"--with {spec}: no user step decorator {name!r} could be imported "
                               "(write module.decorator, with the module importable from the flow's folder).")
        from ..user_decorators import FlowMutator

        if issubclass(user_cls, FlowMutator):
            raise CommandError(f"--with {spec}: {name} is a FlowMutator; --with adds step decorators "
                               "(a FlowMutator goes above the flow's class).")
        deco = user_cls(**kwargs)
    else:
        deco = decorator_class(name)(**kwargs)
    problem = getattr(deco, "problem", None)
    if problem is not None:
        raise CommandError(f"--with {spec}: {getattr(problem, 'message', problem)}")
    deco.statically_defined = False
    return deco
