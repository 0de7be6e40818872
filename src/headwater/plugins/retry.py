"""``@retry``: run a failed attempt again, as a new attempt of the same task.

    @retry(times=3, minutes_between_retries=0)
    @step
    def fetch(self): ...

A local run retries at once, as Metaflow's local runtime does, unless
``minutes_between_retries`` is given: then the scheduler waits that long, without holding a
worker, so other tasks keep running.
``current.retry_count`` tells the step which attempt it is.
"""

from __future__ import annotations

from ..decorators import BadDecoratorArgument, StepDecorator

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

MAX_TIMES = 100


class retry(StepDecorator):  # noqa: N801 - decorators are lower-case, as in Metaflow
    name = "retry"
    defaults = {"times": 3, "minutes_between_retries": None}  # None: not given, retry at once

    def step_init(self, *, flow: Any, graph: Any, step_name: str) -> None:
        times = self.attributes["times"]
        minutes = self.attributes["minutes_between_retries"]
        if isinstance(times, bool) or not isinstance(times, int) or not 0 <= times <= MAX_TIMES:
            raise BadDecoratorArgument(
                f"@retry on step {step_name!r}: times must be a whole number from 0 to {MAX_TIMES}, got {times!r}."
            )
        if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int | float)
                                    or not 0 <= minutes <= 24 * 60):
            raise BadDecoratorArgument(
                f"@retry on step {step_name!r}: minutes_between_retries must be a number of minutes "
                f"from 0 to 1440, got {minutes!r}."
            )

    def runtime_retry_count(self) -> int:
        return int(self.attributes["times"])

    def runtime_retry_delay(self) -> float | None:
        minutes = self.attributes["minutes_between_retries"]
        return None if minutes is None else float(minutes) * 60.0
