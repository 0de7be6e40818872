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

``build.prepare_flow`` runs the mutators (``mutators.apply_mutators``) on every preparation,
the scheduler's and a fresh task interpreter's alike, from the same pristine lists, so both
see the same steps. The task runs the wrappers through :func:`run_wrapped`.
"""

from __future__ import annotations

from .decorators import _user_location
from .exceptions import FlowDefinitionError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .mutators import MutableFlow, MutableStep

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
