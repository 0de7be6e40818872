"""``@resources(cpu=, memory=, gpu=)``: what a step needs; remote executors request it."""

from __future__ import annotations

from ..decorators import BadDecoratorArgument, StepDecorator

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


class resources(StepDecorator):  # noqa: N801
    name = "resources"
    defaults = {"cpu": 1, "memory": 4096, "gpu": 0, "disk": None, "shared_memory": None}

    def step_init(self, *, flow: Any, graph: Any, step_name: str) -> None:
        for key in ("cpu", "memory", "gpu"):
            value = self.attributes[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise BadDecoratorArgument(
                    f"@resources on step {step_name!r}: {key} must be a non-negative number, got {value!r}."
                )

    def runtime_resources(self) -> dict[str, float] | None:
        a = self.attributes
        return {"cpu": float(a["cpu"] or 0), "memory": float(a["memory"] or 0), "gpu": float(a["gpu"] or 0)}
