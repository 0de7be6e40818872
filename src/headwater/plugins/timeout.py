"""``@timeout(seconds=, minutes=, hours=)``: stop an attempt that runs too long.

The limit is enforced twice: inside the task an alarm raises :class:`StepTimeout` where the
step is stuck (so the traceback shows the line, and ``@retry``/``@catch`` apply), and the
scheduler kills the process a few seconds later if the alarm could not interrupt it
(a long call in C code).
"""

from __future__ import annotations

import math
import signal
from collections.abc import Callable

from ..decorators import BadDecoratorArgument, StepDecorator
from ..exceptions import StepError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

MAX_SECONDS = 365 * 24 * 3600


class StepTimeout(StepError):
    headline = "Step timed out"
    # What an attempt records as its exception type (``task.exception.type``, ``@catch``'s
    # ``.type``): Metaflow's name for a timeout, so code that tests for it keeps working.
    recorded_type = "metaflow.plugins.timeout_decorator.TimeoutException"


class timeout(StepDecorator):  # noqa: N801
    name = "timeout"
    defaults = {"seconds": 0, "minutes": 0, "hours": 0}

    def runtime_timeout(self) -> float:
        return self.limit_seconds()

    def limit_seconds(self) -> float:
        a = self.attributes
        return float(a["seconds"] or 0) + 60.0 * float(a["minutes"] or 0) + 3600.0 * float(a["hours"] or 0)

    def step_init(self, *, flow: Any, graph: Any, step_name: str) -> None:
        for key in ("seconds", "minutes", "hours"):
            value = self.attributes[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise BadDecoratorArgument(
                    f"@timeout on step {step_name!r}: {key} must be a non-negative number, got {value!r}."
                )
        if not math.isfinite(self.limit_seconds()) or self.limit_seconds() > MAX_SECONDS:
            raise BadDecoratorArgument(
                f"@timeout on step {step_name!r}: {self.limit_seconds():g} seconds is not a usable "
                "limit; give at most 365 days, or remove @timeout for no limit."
            )
        if self.limit_seconds() <= 0:
            raise BadDecoratorArgument(
                f"@timeout on step {step_name!r} sets no limit; give seconds=, minutes= or hours=, "
                "e.g. @timeout(minutes=10)."
            )
        self.step_name = step_name

    def task_decorate(self, step_func: Callable[[], Any], *, flow: Any, step_name: str,
                      retry_count: int, max_retries: int) -> Callable[[], Any]:
        limit = self.limit_seconds()

        def on_alarm(signum: int, frame: Any) -> None:
            raise StepTimeout(f"step {step_name!r} exceeded its @timeout of {limit:g} seconds.")

        def timed() -> Any:
            previous = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, limit)
            try:
                return step_func()
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)

        return timed
