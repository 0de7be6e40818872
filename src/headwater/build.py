"""Building the flow model of a run: configs read, decorator arguments resolved, the graph
built from the source and linted, each decorator's ``step_init`` run.

The scheduler does it once per run; ``python -m headwater.task`` does it again in a fresh
interpreter, with the config values the run stored.
"""

from __future__ import annotations

from .configs import flow_configs, resolve_delayed
from .decorators import BadDecoratorArgument, StepDecorator
from .exceptions import ParameterError
from .graph import FlowGraph

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


def prepare_flow(flow_cls: type, *, config_paths: dict[str, str] | None = None,
                 config_texts: dict[str, str] | None = None,
                 extra_decorators: list[Any] | None = None,
                 config_values: dict[str, Any] | None = None) -> tuple[FlowGraph, dict[str, Any]]:
    """Read configs, resolve decorator arguments, build and lint the graph.

    ``config_values`` (attribute -> value) skips reading the configs: a task in another
    process gets them from the run's stored values, exactly as the run started with.
    """
    from .lint import check

    config_paths = config_paths or {}
    config_texts = config_texts or {}
    configs = flow_configs(flow_cls)
    known = {c.name for c in configs}
    for name in (*config_paths, *config_texts):
        if name not in known:
            raise ParameterError(
                f"--config {name}: the flow has no Config named {name!r}"
                + (f"; its configs are: {', '.join(sorted(known))}" if known else "")
            )
    values: dict[str, Any] = {}
    for cfg in configs:
        if config_values is not None:
            values[cfg.attr] = config_values.get(cfg.attr)
        else:
            values[cfg.attr] = cfg.load(config_paths.get(cfg.name), config_texts.get(cfg.name))
    flow_cls._hw_config_values = values  # type: ignore[attr-defined]
    if getattr(flow_cls, "_hw_exit_hooks", None):
        from .exit_hook import exit_hooks

        for hook in exit_hooks(flow_cls):
            if hook.problem is not None:
                raise hook.problem
    # User decorators and mutators (user_decorators.py): mutators change the steps' decorator
    # lists before the graph reads them; the --with decorators are attached before mutate().
    extra = [d for d in extra_decorators or () if isinstance(d, StepDecorator)]
    user_extra = [d for d in extra_decorators or () if not isinstance(d, StepDecorator)]
    attached = False
    if user_extra or _has_user_decorators(flow_cls):
        from .mutators import apply_mutators

        attached = apply_mutators(flow_cls, values, extra, user_extra)
    graph = FlowGraph(flow_cls)
    for node in graph:
        if not attached:
            for deco in extra:
                if not any(d.name == deco.name for d in node.decorators):
                    node.decorators.append(deco.copy() if hasattr(deco, "copy") else deco)
        for deco in node.decorators:
            deco.attributes = resolve_delayed(deco.attributes, values)
    for node in graph:
        for deco in node.decorators:
            if getattr(deco, "problem", None) is not None:
                raise deco.problem  # an unknown argument, kept where the decorator was written
    check(graph)
    for node in graph:
        for deco in node.decorators:
            try:
                deco.step_init(flow=flow_cls, graph=graph, step_name=node.name)
            except BadDecoratorArgument as exc:
                # Point at the decorator's line (or the step's, for --with decorators).
                if exc.where is None:
                    # A decorator a mutator added points at its add_decorator() line.
                    static = getattr(deco, "statically_defined", True) or getattr(deco, "inserted_by", None)
                    exc.where = (getattr(deco, "where", None) if static else None) or node.where
                raise
    return graph, values


def _has_user_decorators(flow_cls: type) -> bool:
    """Whether the flow has mutators, user step decorators, or was mutated before (cheap:
    most flows have none, and then ``user_decorators`` is not even imported)."""
    from .graph import _step_functions

    if (getattr(flow_cls, "_hw_flow_mutators", None) or getattr(flow_cls, "_hw_saved_steps", None)
            or getattr(flow_cls, "_hw_class_problems", None)):
        return True
    return any(f.__dict__.get("wrappers") or f.__dict__.get("config_decorators")
               or f.__dict__.get("_hw_problems") for _, f in _step_functions(flow_cls))
