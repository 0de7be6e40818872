"""User-defined step decorators and mutators, with Metaflow's names and semantics.

Three kinds, all only recorded where they are written (nothing runs at import time):

- :class:`UserStepDecorator` (and ``@user_step_decorator`` on a generator function) wraps
  the step inside the task: ``pre_step`` runs before the step function, ``post_step`` after
  it (or with the exception it raised). Kept on the step function's ``wrappers`` list.
- :class:`StepMutator` changes a step while the flow is prepared: ``pre_mutate`` and
  ``mutate`` get a :class:`MutableStep` that adds and removes decorators. Kept on the step
  function's ``config_decorators`` list (Metaflow's name).
- :class:`FlowMutator` decorates the flow class and gets a :class:`MutableFlow`: configs,
  parameters (added in ``pre_mutate``) and every step.

``build.prepare_flow`` runs the mutators (:func:`apply_mutators`) on every preparation, the
scheduler's and a fresh task interpreter's alike, from the same pristine lists, so both see
the same steps. The task runs the wrappers through :func:`run_wrapped`.
"""

from __future__ import annotations

from .decorators import StepDecorator, _user_location
from .exceptions import FlowDefinitionError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

# Yielded by a generator decorator (or returned as ``skip_step``): skip the step and go
# where its self.next() would have gone. Metaflow's value is an empty dict too.
USER_SKIP_STEP: dict[str, Any] = {}

_REGISTRY: dict[str, type] = {}  # full dotted name -> user decorator or mutator class


class UserDecoratorError(FlowDefinitionError):
    headline = "Invalid user decorator"


def _register(cls: type, name: str) -> None:
    cls.decorator_name = name  # type: ignore[attr-defined]
    _REGISTRY[name] = cls


def find_decorator_class(name: str) -> type | None:
    """A registered user decorator by its full dotted name or a unique tail of it
    (``"my_deco"`` or ``"mymodule.my_deco"``), as Metaflow names them."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    hits = [cls for full, cls in _REGISTRY.items() if full.endswith("." + name)]
    return hits[0] if len(hits) == 1 else None


def short_name(cls: type) -> str:
    """The shortest dotted tail of the class's name that names only it."""
    parts = cls.decorator_name.split(".")  # type: ignore[attr-defined]
    for i in range(len(parts) - 1, -1, -1):
        tail = ".".join(parts[i:])
        if find_decorator_class(tail) is cls:
            return tail
    return cls.decorator_name  # type: ignore[attr-defined]


_FUNCTION = type(lambda: None)


def _is_function(obj: Any) -> bool:
    return type(obj) is _FUNCTION


def _step_lists(func: Any) -> tuple[list[Any], list[Any], list[Any]]:
    d = func.__dict__
    return d.setdefault("decorators", []), d.setdefault("wrappers", []), d.setdefault("config_decorators", [])


class UserStepDecoratorBase:
    """What user step decorators and step mutators share: arguments kept as written
    (``init`` receives them once configs are read), the file:line they were written at,
    and attaching to a step function (bare ``@Deco`` or ``@Deco(...)``)."""

    _allowed_args: bool = False
    _allowed_kwargs: bool = True
    decorator_name: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _register(cls, cls.__dict__.get("_decorator_name") or f"{cls.__module__}.{cls.__qualname__}")

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        inst = super().__new__(cls)
        if len(args) == 1 and not kwargs and _is_function(args[0]):
            inst.__init__()  # bare @Deco: no arguments, attach and hand the function back
            inst._attach(args[0])
            return args[0]
        if len(args) == 1 and not kwargs and isinstance(args[0], type):
            _class_problem(args[0], UserDecoratorError(
                f"@{short_name(cls)} is a step decorator: it goes above a step (a method with "
                f"@step), not above the class {args[0].__name__}"
                + (" (a FlowMutator does that)." if issubclass(cls, StepMutator) else "."),
                where=_user_location()))
            return args[0]
        return inst

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.where: str | None = _user_location()
        self.problem: BaseException | None = None
        self._args = list(args)
        self._kwargs = dict(kwargs)
        self.statically_defined = True
        self.inserted_by: list[str] | None = None
        if args and not self._allowed_args:
            self.problem = UserDecoratorError(
                f"@{short_name(type(self))} takes keyword arguments only, e.g. "
                f"@{short_name(type(self))}(name=value).", where=self.where)
        elif kwargs and not self._allowed_kwargs:
            self.problem = UserDecoratorError(
                f"@{short_name(type(self))} takes no keyword arguments.", where=self.where)

    def __call__(self, func: Any) -> Any:
        if isinstance(func, type):
            _class_problem(func, UserDecoratorError(
                f"@{short_name(type(self))} is a step decorator: it goes above a step, not above "
                f"the class {func.__name__}.", where=self.where))
            return func
        if not _is_function(func):
            raise UserDecoratorError(
                f"@{short_name(type(self))} decorates a step (a method with @step), "
                f"not {func!r}.", where=_user_location())
        self._attach(func)
        return func

    def _fields(self) -> list[str]:
        out = []
        for klass in type(self).__mro__:
            field = klass.__dict__.get("_step_field")
            if field and field not in out:
                out.append(field)
        return out

    def _attach(self, func: Any) -> None:
        _step_lists(func)
        for field in self._fields():
            func.__dict__[field].append(self)

    def get_args_kwargs(self) -> tuple[list[Any], dict[str, Any]]:
        return list(self._args), dict(self._kwargs)

    def init(self, *args: Any, **kwargs: Any) -> None:
        """Override to take arguments: ``@MyDeco(x=1)`` calls ``init(x=1)`` once configs are read."""

    def external_init(self, config_values: dict[str, Any] | None = None) -> None:
        """Resolve config expressions in the arguments and call ``init`` with them."""
        from .configs import resolve_delayed

        values = config_values or {}
        args = [resolve_delayed(a, values) for a in self._args]
        kwargs = {k: resolve_delayed(v, values) for k, v in self._kwargs.items()}
        if (args or kwargs) and not _defines(type(self), "init"):
            raise UserDecoratorError(
                f"@{short_name(type(self))} is given arguments but {type(self).__name__} does not "
                "implement init(); add `def init(self, *args, **kwargs)` to take them.", where=self.where)
        if _defines(type(self), "init"):
            _user_call(self.init, *args, **kwargs)

    def __repr__(self) -> str:
        args = [repr(a) for a in self._args] + [f"{k}={v!r}" for k, v in self._kwargs.items()]
        return f"@{short_name(type(self))}({', '.join(args)})"


def _defines(cls: type, name: str) -> bool:
    """True when a class below the library's own bases defines ``name``."""
    for klass in cls.__mro__:
        if klass.__module__ == __name__ and klass.__name__ in _BASES:
            return False
        if name in klass.__dict__:
            return True
    return False


_BASES = {"UserStepDecoratorBase", "UserStepDecorator", "StepMutator"}


class UserStepDecorator(UserStepDecoratorBase):
    """Subclass to run code around a step in the task (Metaflow's ``UserStepDecorator``).

    ``pre_step(step_name, flow, inputs)`` may return a callable that replaces the step (it
    takes the flow, and the inputs for a join) or set ``self.skip_step`` (True, or a dict of
    ``self.next()`` arguments). ``post_step(step_name, flow, exception)`` returns the
    exception to raise (None: the step succeeded) or ``(exception, next_args)``.
    """

    _step_field = "wrappers"

    def pre_step(self, step_name: str, flow: Any, inputs: Any = None) -> Any:
        return None

    def post_step(self, step_name: str, flow: Any, exception: BaseException | None = None) -> Any:
        if exception is not None:
            return exception, None
        return None, None

    @property
    def skip_step(self) -> bool | dict[str, Any]:
        return self.__dict__.get("_skip_step", False)

    @skip_step.setter
    def skip_step(self, value: bool | dict[str, Any]) -> None:
        self.__dict__["_skip_step"] = value


class _YieldedTwice(Exception):
    pass


class _GeneratorDecorator(UserStepDecorator):
    """The class ``@user_step_decorator`` makes of a generator function."""

    _generator_function: Callable[..., Any]
    _arity = 4
    _definition_problem: BaseException | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.problem = type(self)._definition_problem or self.problem

    def init(self, **kwargs: Any) -> None:
        self._attributes = kwargs

    def pre_step(self, step_name: str, flow: Any, inputs: Any = None) -> Any:
        fn = type(self)._generator_function
        args = (step_name, flow, inputs, getattr(self, "_attributes", {}))[: self._arity]
        self._gen = fn(*args)
        try:
            value = self._gen.send(None)
        except StopIteration:
            self.skip_step = True  # never yielded: the step does not run
            self._gen = None
            return None
        if isinstance(value, dict):
            self.skip_step = value if value else True
            return None
        return value

    def post_step(self, step_name: str, flow: Any, exception: BaseException | None = None) -> Any:
        if self._gen is None:
            return None
        try:
            if exception is not None:
                self._gen.throw(exception)
            else:
                self._gen.send(None)
        except StopIteration as stop:
            return stop.value
        except Exception as exc:  # noqa: BLE001 - the generator's own (or re-raised) error
            return exc
        return None, None, UserDecoratorError(
            f"@{short_name(type(self))} yielded more than once; a step decorator yields once.",
            where=_code_where(type(self)._generator_function))


def _code_where(fn: Any) -> str | None:
    code = getattr(fn, "__code__", None)
    return f"{code.co_filename}:{code.co_firstlineno}" if code else None


def user_step_decorator(*args: Any, **kwargs: Any) -> Any:
    """Turn a generator function ``(step_name, flow, inputs[, attributes])`` into a step
    decorator: code before its ``yield`` runs before the step, code after it after.

    Yield None to run the step, a dict to skip it (``USER_SKIP_STEP``, or ``self.next()``
    arguments), or a callable to run instead of it.
    """
    if not args:
        return lambda fn: user_step_decorator(fn, **kwargs)
    import inspect  # only where a decorator is defined: it is a costly import

    fn = args[0]
    where = _code_where(fn) or _user_location()
    # A mistake here is kept on the class and reported, with this file:line, when a flow
    # using the decorator is prepared: raising now would be a traceback out of an import.
    problem = None
    arity = 4
    if not inspect.isgeneratorfunction(fn):
        problem = UserDecoratorError(
            "@user_step_decorator decorates a generator function (one that yields once), "
            f"e.g. def {getattr(fn, '__name__', 'my_deco')}(step_name, flow, inputs=None, "
            "attributes=None): ...; yield; ...", where=where)
    else:
        arity = len(inspect.signature(fn).parameters)
        if arity not in (3, 4) or (kwargs and arity != 4):
            problem = UserDecoratorError(
                f"@user_step_decorator: {fn.__name__} must take (step_name, flow, inputs, attributes)"
                " (attributes may be left out when the decorator takes no arguments).", where=where)
            arity = 4
    namespace = {"_generator_function": staticmethod(fn), "_arity": arity, "_definition_problem": problem,
                 "_decorator_name": f"{fn.__module__}.{fn.__qualname__}",
                 "__module__": fn.__module__, "__doc__": fn.__doc__, "__qualname__": fn.__qualname__}
    cls = type(fn.__name__, (_GeneratorDecorator,), namespace)
    cls._generator_function = fn  # type: ignore[attr-defined]
    return cls


class StepMutator(UserStepDecoratorBase):
    """Subclass to change a step as the flow is prepared (Metaflow's ``StepMutator``).

    ``pre_mutate(mutable_step)`` runs right after configs are read and may add or remove
    step mutators too; ``mutate(mutable_step)`` runs after the ``--with`` decorators are
    attached. Arguments go to ``init``.
    """

    _step_field = "config_decorators"
    _allowed_args = True

    def pre_mutate(self, mutable_step: MutableStep) -> None:
        return None

    def mutate(self, mutable_step: MutableStep) -> None:
        return None


class FlowMutator:
    """Subclass and decorate a flow class with it (Metaflow's ``FlowMutator``).

    ``pre_mutate(mutable_flow)`` may add or remove parameters; ``mutate(mutable_flow)`` may
    change steps. Both see the configs' values. Arguments go to ``init``.
    """

    decorator_name: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _register(cls, f"{cls.__module__}.{cls.__qualname__}")

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        inst = super().__new__(cls)
        if len(args) == 1 and not kwargs and isinstance(args[0], type):
            inst.__init__()
            inst._attach(args[0])
            return args[0]
        if len(args) == 1 and not kwargs and _is_function(args[0]):
            # Written above a step: keep the mistake, prepare_flow reports it with file:line.
            args[0].__dict__.setdefault("_hw_problems", []).append(UserDecoratorError(
                f"@{cls.__name__} is a FlowMutator: it decorates the flow class, not the "
                f"step {args[0].__name__!r}. Put it above `class ...(FlowSpec)`, or make it a "
                "StepMutator.", where=_user_location()))
            return args[0]
        return inst

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.where: str | None = _user_location()
        self._args = list(args)
        self._kwargs = dict(kwargs)
        self.statically_defined = True
        self.inserted_by: list[str] | None = None

    def __call__(self, flow_cls: Any) -> Any:
        if not isinstance(flow_cls, type):
            if _is_function(flow_cls):
                flow_cls.__dict__.setdefault("_hw_problems", []).append(UserDecoratorError(
                    f"@{type(self).__name__} is a FlowMutator: it decorates the flow class, not "
                    f"the step {flow_cls.__name__!r}.", where=self.where))
                return flow_cls
            raise UserDecoratorError(f"@{type(self).__name__} decorates a flow class.", where=self.where)
        self._attach(flow_cls)
        return flow_cls

    def _attach(self, flow_cls: type) -> None:
        from .flowspec import FlowSpec

        if not issubclass(flow_cls, FlowSpec):
            raise UserDecoratorError(
                f"@{type(self).__name__} decorates a flow class (a FlowSpec subclass), "
                f"not {flow_cls.__name__}.", where=self.where)
        own = flow_cls.__dict__.get("_hw_flow_mutators")
        if own is None:
            own = []
            type.__setattr__(flow_cls, "_hw_flow_mutators", own)
        own.append(self)

    def get_args_kwargs(self) -> tuple[list[Any], dict[str, Any]]:
        return list(self._args), dict(self._kwargs)

    def init(self, *args: Any, **kwargs: Any) -> None:
        """Override to take arguments: ``@MyMutator(x=1)`` calls ``init(x=1)``."""

    def external_init(self, config_values: dict[str, Any] | None = None) -> None:
        from .configs import resolve_delayed

        values = config_values or {}
        args = [resolve_delayed(a, values) for a in self._args]
        kwargs = {k: resolve_delayed(v, values) for k, v in self._kwargs.items()}
        defines = any("init" in k.__dict__ for k in type(self).__mro__ if k is not FlowMutator and k is not object)
        if (args or kwargs) and not defines:
            raise UserDecoratorError(
                f"@{type(self).__name__} is given arguments but does not implement init(); add "
                "`def init(self, *args, **kwargs)` to take them.", where=self.where)
        if defines:
            _user_call(self.init, *args, **kwargs)

    def pre_mutate(self, mutable_flow: MutableFlow) -> None:
        return None

    def mutate(self, mutable_flow: MutableFlow) -> None:
        return None


def _class_problem(cls: type, problem: BaseException) -> None:
    """A step decorator written above a class: reported when the flow is prepared."""
    own = cls.__dict__.get("_hw_class_problems")
    if own is None:
        own = []
        type.__setattr__(cls, "_hw_class_problems", own)
    own.append(problem)


def flow_mutators(flow_cls: type) -> list[FlowMutator]:
    """The flow's mutators, those of its bases first, each in the order it was applied."""
    out: list[FlowMutator] = []
    for klass in reversed(flow_cls.__mro__):
        out.extend(klass.__dict__.get("_hw_flow_mutators", ()))
    return out


# -- the mutable views -------------------------------------------------------------------

IGNORE, ERROR, OVERRIDE = 1, 2, 3


class MutableStep:
    """A step as a mutator sees it: its decorators, to read, add and remove."""

    IGNORE, ERROR, OVERRIDE = IGNORE, ERROR, OVERRIDE

    def __init__(self, flow_cls: type, func: Any, *, pre_mutate: bool, inserted_by: list[str],
                 values: dict[str, Any], where: str | None) -> None:
        self._flow_cls = flow_cls
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
                if duplicates == ERROR:
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
            if duplicates == ERROR:
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
                 values: dict[str, Any], where: str | None) -> None:
        self._flow_cls = flow_cls
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
            if duplicates == ERROR:
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

    name, _, rest = spec.partition(":")
    name = name.strip()
    kwargs: dict[str, Any] = {}
    for part in filter(None, rest.split(",")):
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


def _user_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call user code; its exception becomes one error with the user's traceback."""
    from .exceptions import HeadwaterException

    try:
        return fn(*args, **kwargs)
    except HeadwaterException:
        raise
    except Exception as exc:  # noqa: BLE001 - reported with the user's frames only
        from .task import user_traceback

        owner = getattr(fn, "__self__", None)
        what = f"{type(owner).__name__}.{fn.__name__}()" if owner is not None else f"{fn.__name__}()"
        raise UserDecoratorError(f"{what} raised an exception:\n{user_traceback(exc).rstrip()}") from None


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
                                                 inserted_by=[m.decorator_name]))
    steps = _step_functions(flow_cls)
    for _, func in steps:
        for m in list(_step_lists(func)[2]):
            if m.problem is not None:
                raise m.problem
            m.external_init(values)
    for _, func in steps:
        for m in _step_lists(func)[2]:  # the live list: a mutator added here is pre-mutated too
            _user_call(m.pre_mutate, MutableStep(flow_cls, func, pre_mutate=True, values=values,
                                                 where=m.where, inserted_by=[m.decorator_name]))
    for _, func in steps:
        decos = _step_lists(func)[0]
        for deco in extra_decorators:
            if not any(d.name == deco.name for d in decos):
                decos.append(deco.copy() if hasattr(deco, "copy") else deco)
    for m in flow_mutators(flow_cls):
        _user_call(m.mutate, MutableFlow(flow_cls, pre_mutate=False, values=values, where=m.where,
                                         inserted_by=[m.decorator_name]))
    for _, func in steps:
        for m in list(_step_lists(func)[2]):
            _user_call(m.mutate, MutableStep(flow_cls, func, pre_mutate=False, values=values,
                                             where=m.where, inserted_by=[m.decorator_name]))
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


# -- in the task -------------------------------------------------------------------------


def run_wrapped(call: Callable[[], Any], wrappers: list[Any], *, flow: Any, node: Any,
                step_name: str, inputs: Any) -> None:
    """Run the step ``call`` inside the step's user decorators, outermost (topmost) first.

    A decorator may replace the step (its ``pre_step`` returned a callable) or skip it
    (``skip_step``); ``post_step`` runs for each decorator whose ``pre_step`` ran, innermost
    first, and decides whether an exception stands. When the step was skipped, replaced with
    ``self.next()`` arguments, or its exception swallowed, the transition follows the graph.
    """
    import copy

    stack: list[Any] = []
    replacement = None
    next_args: Any = None
    for proto in reversed(wrappers):  # the list is innermost first (decorators apply bottom-up)
        w = copy.copy(proto)  # per attempt: a decorator may keep state on self
        w.__dict__.pop("_skip_step", None)
        replacement = w.pre_step(step_name, flow, inputs)
        stack.append(w)
        if w.skip_step:
            next_args = w.skip_step
            replacement = None
            break
        if replacement is not None:
            break
    error: BaseException | None = None
    failed = False
    try:
        if not next_args:
            if replacement is not None:
                d = flow.__dict__
                before = d.get("_hw_transition")
                got = replacement(flow) if inputs is None else replacement(flow, inputs)
                next_args = got or None
                if next_args is None and d.get("_hw_transition") is before is None:
                    next_args = True  # the replacement left self.next() to the graph
            else:
                call()
    except Exception as exc:  # noqa: BLE001 - the decorators decide what stands
        error, failed = exc, True
    for w in reversed(stack):
        try:
            r = w.post_step(step_name, flow, error)
        except Exception as exc:  # noqa: BLE001
            r = exc
        if r is None:
            error = None
        elif isinstance(r, BaseException):
            error = r
        elif isinstance(r, tuple) and len(r) == 2:
            error, override = r
            if override is not None:
                next_args = override
        elif isinstance(r, tuple) and len(r) == 3:
            raise r[2]
        else:
            raise UserDecoratorError(
                f"{type(w).__name__}.post_step() returned {r!r}; return an exception, None, or "
                "(exception, next_args).", where=_code_where(type(w).post_step))
    if error is not None:
        raise error
    if (next_args is not None and next_args is not False) or failed:
        _fake_next(flow, node, next_args)


def _fake_next(flow: Any, node: Any, args: Any) -> None:
    from .exceptions import StepError

    if node.is_end:
        flow.__dict__["_hw_transition"] = None
        return
    targets = [getattr(flow, name) for name in node.out_funcs]
    flow.__dict__["_hw_transition"] = None
    if isinstance(args, dict) and args:
        flow.next(*targets, **args)
    elif node.condition is not None:
        raise StepError(
            f"step {node.name!r} is a switch and was skipped by a decorator without saying where "
            "to go; yield a dict of self.next() arguments instead.")
    elif node.foreach_param is not None:
        flow.next(*targets, foreach=node.foreach_param)
    else:
        flow.next(*targets)
