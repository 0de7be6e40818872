"""``@step`` and the base class of step decorators.

Decorators only record: ``@step`` marks a method, ``@retry(times=3)`` appends a spec to the
method's ``decorators`` list. The graph builder and the runtime read those lists once;
nothing runs at import time (the habit of click's decorators).

A step decorator subclasses :class:`StepDecorator`, names itself and its defaults, and
overrides the hooks it needs. Hooks receive keyword arguments only. Two families:

- ``runtime_*`` hooks answer what the scheduler and the executors ask of a step (retries and
  their delay, a time limit, resources, whether the step recovers from a dead process, which
  executor it needs). The runtime never looks for a decorator by name, so a new compute
  decorator (``@ray``, ``@kubernetes``) is one plugin module.
- ``task_*`` hooks run inside the task's process, around the step function.
"""

from __future__ import annotations

import os
import sys

from .exceptions import HeadwaterException

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, ClassVar, TypeVar

    F = TypeVar("F", bound=Callable[..., Any])


class BadDecoratorArgument(HeadwaterException):
    headline = "Invalid decorator argument"


class StepDecorator:
    """Base of every step decorator (``@retry``, ``@catch``, ``@timeout``, ...).

    Subclasses set ``name`` and ``defaults``; the user's keyword arguments override the
    defaults and unknown keywords are refused. Hook methods are no-ops here.

    A wrong argument is not raised where the decorator is written (that would be a traceback
    out of the flow's class body); it is kept in ``problem`` with the file:line of the
    decorator (``where``), and the graph builder reports it before the run starts.
    """

    name: ClassVar[str] = "decorator"
    defaults: ClassVar[dict[str, Any]] = {}
    allow_multiple: ClassVar[bool] = False

    def __new__(cls, func: Any = None, **attributes: Any) -> Any:
        # Bare ``@retry`` passes the function itself: attach with defaults and return it.
        inst = super().__new__(cls)
        if func is not None and callable(func):
            inst.__init__(**attributes)
            attach(func, inst)
            return func
        return inst  # Python now calls __init__ with the same arguments

    def __init__(self, func: Any = None, **attributes: Any) -> None:
        self.where: str | None = _user_location()
        self.problem: BadDecoratorArgument | None = None
        unknown = [k for k in attributes if k not in self.defaults]
        if func is not None:  # @card("blank"): the instance still decorates the function
            self.problem = BadDecoratorArgument(
                f"@{self.name} takes keyword arguments only, e.g. @{self.name}("
                + ", ".join(f"{k}={v!r}" for k, v in self.defaults.items()) + ").", where=self.where)
        elif unknown:
            allowed = ", ".join(self.defaults) or "none"
            self.problem = BadDecoratorArgument(
                f"@{self.name} got an unknown argument {unknown[0]!r}; it accepts: {allowed}.",
                where=self.where)
        self.attributes: dict[str, Any] = {**self.defaults, **attributes}
        self.statically_defined = True

    def copy(self) -> StepDecorator:
        """A fresh instance with the same arguments (``--with`` adds one per step)."""
        new = type(self)(**self.attributes)
        new.statically_defined = self.statically_defined
        new.where = self.where
        return new

    def __call__(self, func: F) -> F:
        # Used as @retry(times=2): attach to the function and hand it back.
        attach(func, self)
        return func

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.attributes.items())
        return f"@{self.name}({args})"

    # -- hooks: override what you need ------------------------------------------------------
    def step_init(self, *, flow: Any, graph: Any, step_name: str) -> None:
        """Validate arguments once the flow and its configs are known; raise to refuse."""

    def runtime_retry_count(self) -> int:
        """How many times the runtime may retry a failed attempt of this step."""
        return 0

    def runtime_retry_delay(self) -> float | None:
        """Seconds to wait before a retry (None: this decorator has no say)."""
        return None

    def runtime_timeout(self) -> float:
        """Seconds an attempt may run before the runtime stops it (0: no limit)."""
        return 0.0

    def runtime_resources(self) -> dict[str, float] | None:
        """What one attempt needs, e.g. ``{"cpu": 2, "memory": 4096, "gpu": 0}`` (memory in
        MB), or None. Local runs fit attempts in ``--max-cpu``/``--max-memory``; remote
        executors request it from their cluster."""
        return None

    def runtime_recovers_process_death(self) -> bool:
        """True if, when the attempt's process dies without a result (a segfault, a kill), the
        runtime should run a short recovery attempt that calls :meth:`task_process_died`
        instead of the step."""
        return False

    def runtime_executor(self) -> str | None:
        """The executor this step must run on (``"ray"``, ...), or None for the run's own."""
        return None

    def task_process_died(self, *, flow: Any, step_name: str, failure: dict[str, Any]) -> None:
        """In the recovery attempt after a process death: record ``failure`` (type, message,
        traceback) on the flow, as ``@catch`` does."""

    def task_pre_step(self, *, flow: Any, step_name: str, retry_count: int, max_retries: int) -> None:
        """Runs in the task process before the step function."""

    def task_decorate(self, step_func: Callable[[], Any], *, flow: Any, step_name: str,
                      retry_count: int, max_retries: int) -> Callable[[], Any]:
        """Wraps the step function; return the (possibly) new callable."""
        return step_func

    def task_exception(self, exception: BaseException, *, flow: Any, step_name: str,
                       retry_count: int, max_retries: int) -> bool:
        """Called when the step raised; return True when the exception is handled."""
        return False

    def task_post_step(self, *, flow: Any, step_name: str, retry_count: int, max_retries: int) -> None:
        """Runs in the task process after the step function succeeded."""

    def task_finished(self, *, flow: Any, step_name: str, retry_count: int, max_retries: int,
                      ok: bool, exception: dict | None) -> None:
        """Runs in the task process last, after artifacts are stored (or the attempt failed).

        Must not raise: a failure here is printed and ignored (cards use this).
        """


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_location() -> str | None:
    """file:line of the innermost caller outside Headwater (the decorator line in a flow)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    if frame is None:
        return None
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"  # as lint names files


def attach(func: Callable[..., Any], deco: StepDecorator) -> None:
    decos = func.__dict__.setdefault("decorators", [])
    if not deco.allow_multiple and any(d.name == deco.name for d in decos):
        # Kept like an unknown argument: reported with file:line when the graph is built.
        deco.problem = deco.problem or BadDecoratorArgument(
            f"@{deco.name} is applied twice to step {func.__name__!r}; keep one.",
            where=getattr(deco, "where", None))
    decos.append(deco)


def step(func: F | None = None, *, start: bool = False, end: bool = False) -> Any:
    """Mark a method of a :class:`~headwater.FlowSpec` as a step.

    ``@step`` is all most steps need; ``@step(start=True)`` or ``@step(end=True)`` makes a
    step with another name the start or the end of the flow.
    """

    def mark(f: F) -> F:
        f.is_step = True  # type: ignore[attr-defined]
        f.name = f.__name__  # type: ignore[attr-defined]  # as Metaflow's steps have
        f.step_flags = {"start": start, "end": end}  # type: ignore[attr-defined]
        f.__dict__.setdefault("decorators", [])
        return f

    if func is not None:
        return mark(func)
    return mark
