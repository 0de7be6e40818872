"""``@ray(cpu=1, gpu=0, memory=None)``: run this step's attempts as Ray tasks on a cluster.

The cluster is ``HEADWATER_RAY_ADDRESS`` (else ``RAY_ADDRESS``; with neither, a local Ray is
started for the run). ``memory`` is in MB, as in ``@resources``; a step with both gets the
larger of each. ``python flow.py run --with ray`` puts every step on Ray.
"""

from __future__ import annotations

from ..decorators import BadDecoratorArgument, StepDecorator

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


class ray(StepDecorator):  # noqa: N801
    name = "ray"
    defaults = {"cpu": 1, "gpu": 0, "memory": None}

    def step_init(self, *, flow: Any, graph: Any, step_name: str) -> None:
        for key, value in self.attributes.items():
            if key == "memory" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise BadDecoratorArgument(
                    f"@ray on step {step_name!r}: {key} must be a non-negative number, got {value!r}.")

    def runtime_resources(self) -> dict[str, float] | None:
        a = self.attributes
        return {"cpu": float(a["cpu"]), "gpu": float(a["gpu"]), "memory": float(a["memory"] or 0)}

    def runtime_executor(self) -> str | None:
        return "ray"
