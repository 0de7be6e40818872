"""``@catch(var="err", print_exception=True)``: let the flow go on when a step fails for good.

After the last attempt fails, the task ends successfully with ``self.<var>`` holding a
:class:`CaughtException` (type, message, traceback); on success ``self.<var>`` is None.
It also covers a process that dies (a segfault, ``os._exit``, a kill): the runtime then
runs a short recovery attempt that records the exception without running the step.
"""

from __future__ import annotations

import sys

from ..decorators import BadDecoratorArgument, StepDecorator

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


class CaughtException:
    """What ``@catch`` stores: picklable, readable without the original exception class."""

    def __init__(self, type: str, message: str, traceback: str = "") -> None:
        self.type = type
        self.message = message
        self.traceback = traceback

    @property
    def exception(self) -> str:  # Metaflow's wrapper calls the message `exception`
        return self.message

    @property
    def stacktrace(self) -> str:
        return self.traceback

    def __repr__(self) -> str:
        return f"CaughtException({self.type}: {self.message})"

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


class catch(StepDecorator):  # noqa: N801
    name = "catch"
    defaults = {"var": None, "print_exception": True}

    def step_init(self, *, flow: Any, graph: Any, step_name: str) -> None:
        node = graph[step_name]
        var = self.attributes["var"]
        if var is not None and (not isinstance(var, str) or not var.isidentifier()):
            raise BadDecoratorArgument(f"@catch on step {step_name!r}: var must be an attribute name, got {var!r}.")
        if node.foreach_param is not None:
            raise BadDecoratorArgument(
                f"@catch cannot be used on {step_name!r} because it starts a foreach: if it failed, "
                "there would be no list to split. Put @catch on the steps inside the foreach instead."
            )
        if node.condition is not None:
            raise BadDecoratorArgument(
                f"@catch cannot be used on {step_name!r} because it chooses a branch with condition=: "
                "if it failed, there would be no value to choose by."
            )

    def task_exception(self, exception: BaseException, *, flow: Any, step_name: str,
                       retry_count: int, max_retries: int) -> bool:
        if retry_count < max_retries:
            return False  # let @retry have its turn first
        from ..task import describe_exception

        info = describe_exception(exception)
        self.task_process_died(flow=flow, step_name=step_name, failure=info)
        return True

    def runtime_recovers_process_death(self) -> bool:
        return True

    def task_process_died(self, *, flow: Any, step_name: str, failure: dict[str, Any]) -> None:
        info = failure
        if self.attributes["print_exception"]:
            print(f"@catch: the step failed with {info['type']}: {info['message'].rstrip('.')}; the flow continues.",
                  file=sys.stderr)
        var = self.attributes["var"]
        if var:
            setattr(flow, var, CaughtException(info["type"], info["message"], info.get("traceback", "")))

    def task_post_step(self, *, flow: Any, step_name: str, retry_count: int, max_retries: int) -> None:
        var = self.attributes["var"]
        if var:
            setattr(flow, var, None)
