"""Mutators at work: the views they change a flow through, and running them.

:class:`MutableStep` and :class:`MutableFlow` are what ``StepMutator`` and ``FlowMutator``
methods receive (Metaflow's names and methods). :func:`apply_mutators` runs them for
``build.prepare_flow``, in Metaflow's order, on pristine copies of the steps' decorator
lists, so that each preparation (the scheduler's, a fresh task interpreter's) starts from
the code as written and ends with the same steps.
"""

from __future__ import annotations

from .decorators import StepDecorator, _user_location
from .user_decorators import (
    FlowMutator,
    StepMutator,
    UserDecoratorError,
    UserStepDecoratorBase,
    _step_lists,
    _user_call,
    find_decorator_class,
    flow_mutators,
    short_name,
)

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any


# -- the mutable views -------------------------------------------------------------------

IGNORE, ERROR, OVERRIDE = 1, 2, 3


class MutableStep:
    """A step as a mutator sees it: its decorators, to read, add and remove."""

    IGNORE, ERROR, OVERRIDE = IGNORE, ERROR, OVERRIDE

    def __init__(self, flow_cls: type, func: Any, *, pre_mutate: bool, inserted_by: list[str],
                 values: dict[str, Any], where: str | None, static: bool = True) -> None:
        self._flow_cls = flow_cls
        self._static = static  # the mutator is written in the code (not given by --with)
        self._func = func
        self._pre = pre_mutate
        self._inserted_by = inserted_by
        self._values = values
        self._where = where

    @property
    def name(self) -> str:
        return self._func.__name__

    @property
    def flow(self) -> MutableFlow:
        return MutableFlow(self._flow_cls, pre_mutate=self._pre, inserted_by=self._inserted_by,
                           values=self._values, where=_user_location())

    @property
    def decorator_specs(self) -> Iterator[tuple[str, str, list[Any], dict[str, Any]]]:
        """(name, full name, args, kwargs) of every decorator of the step."""
        decos, wrappers, mutators = _step_lists(self._func)
        for d in decos:
            yield d.name, f"{type(d).__module__}.{type(d).__name__}", [], dict(d.attributes)
        seen: set[int] = set()
        for d in [*wrappers, *mutators]:
            if id(d) not in seen:
                seen.add(id(d))
                yield (short_name(type(d)), type(d).decorator_name, *d.get_args_kwargs())

    def has_decorator(self, name: str) -> bool:
        return bool(self.get_decorator_specs(name))

    def get_decorator_specs(self, name: str) -> list[tuple[str, str, list[Any], dict[str, Any]]]:
        return [s for s in self.decorator_specs if (s[1] if "." in name else s[0]) == name]

    def add_decorator(self, deco_type: Any, deco_args: list[Any] | None = None,
                      deco_kwargs: dict[str, Any] | None = None, duplicates: int = IGNORE) -> Any:
        """Add a step decorator (``retry``, ``"retry:times=2"``) or a user decorator class.
        Returns the decorator added, or None when ``duplicates`` kept the existing one."""
        deco_args, deco_kwargs = list(deco_args or []), dict(deco_kwargs or {})
        if isinstance(deco_type, str):
            deco_type, spec_kwargs = _parse_spec(deco_type, self._where)
            if spec_kwargs and (deco_args or deco_kwargs):
                raise UserDecoratorError(
                    "add_decorator(): give the arguments in the spec string or in deco_kwargs, "
                    "not both.", where=_user_location())
            deco_kwargs = deco_kwargs or spec_kwargs
        decos, wrappers, mutators = _step_lists(self._func)
        if isinstance(deco_type, type) and issubclass(deco_type, UserStepDecoratorBase):
            if issubclass(deco_type, StepMutator) and not self._pre:
                raise UserDecoratorError(
                    f"adding the step mutator {deco_type.__name__} is only allowed in pre_mutate(), "
                    "not in mutate().", where=_user_location())
            existing = [d for d in [*wrappers, *mutators] if type(d).decorator_name == deco_type.decorator_name]
            if existing:
                if duplicates == ERROR and self._static:
                    raise UserDecoratorError(
                        f"step {self.name!r} already has @{short_name(deco_type)}.", where=_user_location())
                if duplicates != OVERRIDE:
                    return None
                self._drop_user(lambda d: type(d).decorator_name == deco_type.decorator_name)
            new = deco_type(*deco_args, **deco_kwargs)
            if new.problem is not None:
                raise new.problem
            new.statically_defined = False
            new.inserted_by = self._inserted_by
            new._attach(self._func)
            new.external_init(self._values)
            return new
        cls = _step_decorator_class(deco_type, self._where)
        if deco_args:
            raise UserDecoratorError(
                f"@{cls.name} takes keyword arguments only (deco_kwargs).", where=_user_location())
        new = cls(**deco_kwargs)
        if new.problem is not None:
            raise new.problem
        new.statically_defined = False
        new.inserted_by = self._inserted_by
        existing = [d for d in decos if d.name == new.name]
        if existing and not new.allow_multiple:
            if duplicates == ERROR and self._static:
                raise UserDecoratorError(f"step {self.name!r} already has @{new.name}.", where=_user_location())
            if duplicates != OVERRIDE:
                return None
            decos[:] = [d for d in decos if d.name != new.name]
        decos.append(new)
        return new

    def remove_decorator(self, deco_name: str, deco_args: list[Any] | None = None,
                         deco_kwargs: dict[str, Any] | None = None) -> bool:
        """Remove the decorators named ``deco_name`` (those with exactly these arguments, if
        given). Returns True if one was removed."""
        match_all = deco_args is None and deco_kwargs is None
        wanted = (list(deco_args or []), dict(deco_kwargs or {}))
        user_cls = find_decorator_class(deco_name)
        if user_cls is not None:
            def matches(d: Any) -> bool:
                return (type(d).decorator_name == user_cls.decorator_name
                        and (match_all or d.get_args_kwargs() == wanted))
            _, wrappers, mutators = _step_lists(self._func)
            if not self._pre and any(matches(d) and isinstance(d, StepMutator) for d in mutators):
                raise UserDecoratorError(
                    f"removing the step mutator {deco_name!r} is only allowed in pre_mutate(), "
                    "not in mutate().", where=_user_location())
            if self._drop_user(matches):
                return True
        decos = _step_lists(self._func)[0]
        kept = [d for d in decos if not (d.name == deco_name and (match_all or dict(d.attributes) == wanted[1]))]
        removed = len(kept) != len(decos)
        decos[:] = kept
        return removed

    def _drop_user(self, pred: Callable[[Any], bool]) -> bool:
        _, wrappers, mutators = _step_lists(self._func)
        before = len(wrappers) + len(mutators)
        wrappers[:] = [d for d in wrappers if not pred(d)]
        mutators[:] = [d for d in mutators if not pred(d)]
        return len(wrappers) + len(mutators) != before

    def __repr__(self) -> str:
        return f"<MutableStep {self.name}>"


class MutableFlow:
    """The flow as a mutator sees it: configs, parameters, steps (also as attributes)."""

    IGNORE, ERROR, OVERRIDE = IGNORE, ERROR, OVERRIDE

    def __init__(self, flow_cls: type, *, pre_mutate: bool, inserted_by: list[str],
                 values: dict[str, Any], where: str | None, static: bool = True) -> None:
        self._flow_cls = flow_cls
        self._static = static
        self._pre = pre_mutate
        self._inserted_by = inserted_by
        self._values = values
        self._where = where

    @property
    def configs(self) -> Iterator[tuple[str, Any]]:
        """(name, value) of every Config; a dict value reads as a ConfigValue."""
        from collections.abc import Mapping

        from .configs import ConfigValue, flow_configs

        for cfg in flow_configs(self._flow_cls):
            value = self._values.get(cfg.attr)
            yield cfg.name, ConfigValue(value) if isinstance(value, Mapping) else value

    @property
    def parameters(self) -> Iterator[tuple[str, Any]]:
        from .parameters import flow_parameters

        for param in flow_parameters(self._flow_cls):
            yield param.attr, param

    @property
    def steps(self) -> Iterator[tuple[str, MutableStep]]:
        from .graph import _step_functions

        for name, func in _step_functions(self._flow_cls):
            yield name, self._step(func)

    def _step(self, func: Any) -> MutableStep:
        return MutableStep(self._flow_cls, func, pre_mutate=self._pre, inserted_by=self._inserted_by,
                           values=self._values, where=_user_location())

    @property
    def decorator_specs(self) -> Iterator[tuple[str, str, list[Any], dict[str, Any]]]:
        for m in flow_mutators(self._flow_cls):
            yield (short_name(type(m)), type(m).decorator_name, *m.get_args_kwargs())
        for hook in self._flow_cls.__dict__.get("_hw_exit_hooks", ()):
            yield ("exit_hook", "headwater.exit_hook.exit_hook", [], dict(hook.attributes))

    def add_parameter(self, name: str, value: Any, overwrite: bool = False) -> None:
        """Add ``value`` (a Parameter) to the flow as attribute ``name``; only in pre_mutate()."""
        from .parameters import Parameter

        if not self._pre:
            raise UserDecoratorError(
                f"add_parameter({name!r}) is only allowed in pre_mutate(), not in mutate().", where=_user_location())
        if not isinstance(value, Parameter) or value.is_config:
            raise UserDecoratorError(
                f"add_parameter({name!r}) takes a Parameter or an IncludeFile, got {type(value).__name__}.",
                where=_user_location())
        if hasattr(self._flow_cls, name) and not overwrite:
            raise UserDecoratorError(
                f"flow {self._flow_cls.__name__} already has a member {name!r}; pass overwrite=True "
                "to add_parameter to replace it.", where=_user_location())
        _remember_attr(self._flow_cls, name)
        value.attr = name
        type.__setattr__(self._flow_cls, name, value)

    def remove_parameter(self, parameter_name: str) -> bool:
        """Remove the parameter named ``parameter_name``; only in pre_mutate()."""
        from .parameters import flow_parameters

        if not self._pre:
            raise UserDecoratorError(
                f"remove_parameter({parameter_name!r}) is only allowed in pre_mutate(), not in mutate().",
                where=_user_location())
        for param in flow_parameters(self._flow_cls):
            if param.name == parameter_name:
                for klass in self._flow_cls.__mro__:
                    if param.attr in klass.__dict__:
                        _remember_attr(klass, param.attr)
                        type.__delattr__(klass, param.attr)
                        break
                return True
        return False

    def add_decorator(self, deco_type: Any, deco_args: list[Any] | None = None,
                      deco_kwargs: dict[str, Any] | None = None, duplicates: int = IGNORE) -> Any:
        """Add a FlowMutator (class or spec string) or ``exit_hook``; only in pre_mutate()."""
        if not self._pre:
            raise UserDecoratorError(
                "adding a flow decorator is only allowed in pre_mutate(), not in mutate().", where=_user_location())
        deco_args, deco_kwargs = list(deco_args or []), dict(deco_kwargs or {})
        if isinstance(deco_type, str):
            deco_type, spec_kwargs = _parse_spec(deco_type, self._where, flow=True)
            deco_kwargs = deco_kwargs or spec_kwargs
        from .exit_hook import exit_hook

        if deco_type is exit_hook:
            return exit_hook(*deco_args, **deco_kwargs)(self._flow_cls)
        if not (isinstance(deco_type, type) and issubclass(deco_type, FlowMutator)):
            raise UserDecoratorError(
                f"MutableFlow.add_decorator() takes a FlowMutator class, exit_hook or a spec string, "
                f"got {deco_type!r}.", where=_user_location())
        mutators = flow_mutators(self._flow_cls)
        if any(type(m).decorator_name == deco_type.decorator_name for m in mutators):
            if duplicates == ERROR and self._static:
                raise UserDecoratorError(f"the flow already has @{deco_type.__name__}.", where=_user_location())
            if duplicates != OVERRIDE:
                return None
            own = self._flow_cls.__dict__.get("_hw_flow_mutators", [])
            own[:] = [m for m in own if type(m).decorator_name != deco_type.decorator_name]
        new = deco_type(*deco_args, **deco_kwargs)
        new.statically_defined = False
        new.inserted_by = self._inserted_by
        new._attach(self._flow_cls)
        new.external_init(self._values)
        return new

    def remove_decorator(self, deco_name: str, deco_args: list[Any] | None = None,
                         deco_kwargs: dict[str, Any] | None = None) -> bool:
        if not self._pre:
            raise UserDecoratorError(
                "removing a flow decorator is only allowed in pre_mutate(), not in mutate().", where=_user_location())
        if find_decorator_class(deco_name) is not None:
            raise UserDecoratorError(f"FlowMutator {deco_name!r} cannot be removed.", where=_user_location())
        if deco_name == "exit_hook" and self._flow_cls.__dict__.get("_hw_exit_hooks"):
            hooks = self._flow_cls.__dict__["_hw_exit_hooks"]
            before = len(hooks)
            hooks[:] = [h for h in hooks if deco_kwargs is not None and dict(h.attributes) != deco_kwargs]
            return len(hooks) != before
        return False

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        from .parameters import Parameter

        attr = getattr(self._flow_cls, name, None)
        if callable(attr) and getattr(attr, "is_step", False):
            return self._step(attr)
        if isinstance(attr, Parameter):
            if attr.is_config:
                from collections.abc import Mapping

                from .configs import ConfigValue

                value = self._values.get(attr.attr)
                return ConfigValue(value) if isinstance(value, Mapping) else value
            return attr
        raise AttributeError(f"flow {self._flow_cls.__name__} has no step, parameter or config {name!r}")

    def __repr__(self) -> str:
        return f"<MutableFlow {self._flow_cls.__name__}>"


def _step_decorator_class(deco_type: Any, where: str | None) -> type:
    if isinstance(deco_type, type) and issubclass(deco_type, StepDecorator):
        return deco_type
    raise UserDecoratorError(
        f"add_decorator() takes a step decorator (e.g. retry, or 'retry:times=2') or a user "
        f"decorator class, got {deco_type!r}.", where=where)


def _parse_spec(spec: str, where: str | None, flow: bool = False) -> tuple[Any, dict[str, Any]]:
    """``"retry:times=2"`` or ``"mymodule.my_deco:x=1"`` -> (decorator class, kwargs)."""
    import ast
    import re

    name, _, rest = spec.partition(":")
    name = name.strip()
    kwargs: dict[str, Any] = {}
    # A comma starts a new argument only before `key=`, so values may hold commas
    # ("vars={'A': '1', 'B': '2'}", "on_success=['a', 'b']"), as Metaflow reads specs.
    for part in filter(None, re.split(r",(?=\s*\w+\s*=)", rest)):
        key, sep, raw = part.partition("=")
        if not sep:
            raise UserDecoratorError(f"decorator spec {spec!r}: arguments are written key=value.", where=where)
        try:
            kwargs[key.strip()] = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            kwargs[key.strip()] = raw.strip()
    if flow and name == "exit_hook":
        from .exit_hook import exit_hook

        return exit_hook, kwargs
    found = find_user_class(name)
    if found is not None:
        return found, kwargs
    if not flow:
        from .plugins import STEP_DECORATORS, decorator_class

        if name in STEP_DECORATORS:
            return decorator_class(name), kwargs
    raise UserDecoratorError(f"decorator spec {spec!r}: no decorator named {name!r}.", where=where)


def find_user_class(name: str) -> type | None:
    """A user decorator or mutator class by name, importing ``module.attr`` if needed."""
    found = find_decorator_class(name)
    if found is not None or "." not in name:
        return found
    from importlib import import_module

    module, _, attr = name.rpartition(".")
    try:
        obj = getattr(import_module(module), attr, None)
    except ImportError:
        return None
    if isinstance(obj, type) and issubclass(obj, UserStepDecoratorBase | FlowMutator):
        return obj
    return None


def _remember_attr(cls: type, name: str) -> None:
    """Note a class attribute's value before a mutator changes it, to undo it next time."""
    saved = cls.__dict__.get("_hw_saved_attrs")
    if saved is None:
        saved = {}
        type.__setattr__(cls, "_hw_saved_attrs", saved)
    saved.setdefault(name, cls.__dict__.get(name, _ABSENT))


_ABSENT = object()


# -- preparation --------------------------------------------------------------------------


def has_user_decorators(flow_cls: type, step_funcs: list[tuple[str, Any]]) -> bool:
    return bool(flow_mutators(flow_cls)) or any(
        f.__dict__.get("config_decorators") or f.__dict__.get("wrappers") or f.__dict__.get("_hw_problems")
        for _, f in step_funcs)


def apply_mutators(flow_cls: type, values: dict[str, Any], extra_decorators: list[Any],
                   user_extra: list[Any] = ()) -> bool:  # type: ignore[assignment]
    """Run the flow's and steps' mutators on pristine copies of the step decorator lists.

    Order (Metaflow's): flow mutators' ``pre_mutate``, step mutators' ``pre_mutate``, the
    ``--with`` decorators attached, flow mutators' ``mutate``, step mutators' ``mutate``.
    Returns True when ``extra_decorators`` were attached here (to the step functions).
    """
    from .graph import _step_functions

    _restore(flow_cls)
    for problem in getattr(flow_cls, "_hw_class_problems", ()):
        raise problem
    steps = _step_functions(flow_cls)
    for _, func in steps:
        for problem in func.__dict__.get("_hw_problems", ()):
            raise problem
    if not user_extra and not has_user_decorators(flow_cls, steps):
        return False
    for _, func in steps:
        _snapshot(flow_cls, func)
    for _, func in steps:  # user decorators given with --with: one per step that has none
        _, wrappers, mutators = _step_lists(func)
        for proto in user_extra:
            if not any(type(d) is type(proto) for d in [*wrappers, *mutators]):
                new = type(proto)(*proto._args, **proto._kwargs)
                new.where, new.statically_defined = None, False
                new._attach(func)
    for mutator in list(flow_mutators(flow_cls)):
        mutator.external_init(values)
    done: set[int] = set()
    while True:  # a mutator added in pre_mutate has its pre_mutate run too
        pending = [m for m in flow_mutators(flow_cls) if id(m) not in done]
        if not pending:
            break
        for m in pending:
            done.add(id(m))
            _user_call(m.pre_mutate, MutableFlow(flow_cls, pre_mutate=True, values=values, where=m.where,
                                                 inserted_by=[m.decorator_name], static=m.statically_defined))
    steps = _step_functions(flow_cls)
    for _, func in steps:
        for m in list(_step_lists(func)[2]):
            if m.problem is not None:
                raise m.problem
            m.external_init(values)
    for _, func in steps:
        for m in _step_lists(func)[2]:  # the live list: a mutator added here is pre-mutated too
            _user_call(m.pre_mutate, MutableStep(flow_cls, func, pre_mutate=True, values=values,
                                                 where=m.where, inserted_by=[m.decorator_name],
                                             static=m.statically_defined))
    for _, func in steps:
        decos = _step_lists(func)[0]
        for deco in extra_decorators:
            if not any(d.name == deco.name for d in decos):
                decos.append(deco.copy() if hasattr(deco, "copy") else deco)
    for m in flow_mutators(flow_cls):
        _user_call(m.mutate, MutableFlow(flow_cls, pre_mutate=False, values=values, where=m.where,
                                         inserted_by=[m.decorator_name], static=m.statically_defined))
    for _, func in steps:
        for m in list(_step_lists(func)[2]):
            _user_call(m.mutate, MutableStep(flow_cls, func, pre_mutate=False, values=values,
                                             where=m.where, inserted_by=[m.decorator_name],
                                             static=m.statically_defined))
    for _, func in steps:
        for w in _step_lists(func)[1]:
            if w.problem is not None:
                raise w.problem
            if not isinstance(w, StepMutator):
                w.external_init(values)
    return True


def _snapshot(flow_cls: type, func: Any) -> None:
    saved = flow_cls.__dict__.get("_hw_saved_steps")
    if saved is None:
        saved = {}
        type.__setattr__(flow_cls, "_hw_saved_steps", saved)
    if id(func) not in saved:
        saved[id(func)] = (func, *(list(lst) for lst in _step_lists(func)))


def _restore(flow_cls: type) -> None:
    """Undo what the last preparation's mutators did, so each preparation starts alike."""
    for klass in flow_cls.__mro__:
        for name, value in klass.__dict__.get("_hw_saved_attrs", {}).items():
            if value is _ABSENT:
                if name in klass.__dict__:
                    type.__delattr__(klass, name)
            else:
                type.__setattr__(klass, name, value)
        if "_hw_saved_attrs" in klass.__dict__:
            klass.__dict__["_hw_saved_attrs"].clear()
    saved = flow_cls.__dict__.get("_hw_saved_steps", {})
    for func, decos, wrappers, mutators in saved.values():
        lists = _step_lists(func)
        for lst, old in zip(lists, (decos, wrappers, mutators), strict=True):
            lst[:] = old
    for field in ("_hw_flow_mutators", "_hw_exit_hooks"):
        current = flow_cls.__dict__.get(field)
        pristine = flow_cls.__dict__.get(field + "_pristine")
        if pristine is None:
            type.__setattr__(flow_cls, field + "_pristine", list(current or ()))
        elif current is not None:
            current[:] = pristine
