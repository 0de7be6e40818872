"""``@environment(vars={...})``: environment variables set for the step's process."""

from __future__ import annotations

import os

from ..decorators import BadDecoratorArgument, StepDecorator

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


class environment(StepDecorator):  # noqa: N801
    name = "environment"
    defaults = {"vars": {}}

    def step_init(self, *, flow: Any, graph: Any, step_name: str) -> None:
        env = self.attributes["vars"]
        if not isinstance(env, dict) or not all(isinstance(k, str) for k in env):
            raise BadDecoratorArgument(
                f"@environment on step {step_name!r}: vars must be a dict of names to values."
            )

    def task_pre_step(self, *, flow: Any, step_name: str, retry_count: int, max_retries: int) -> None:
        os.environ.update({k: str(v) for k, v in self.attributes["vars"].items()})
