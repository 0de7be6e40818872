"""``current``: what a running task knows about itself.

    from headwater import current
    print(current.run_id, current.step_name, current.task_id, current.retry_count)

Outside a task, ``current.is_running_flow`` is False and the other fields are None.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any


class Current:
    _FIELDS = (
        "flow_name", "run_id", "step_name", "task_id", "retry_count", "origin_run_id",
        "username", "namespace", "tags", "parameter_names", "max_retries",
    )

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        for name in self._FIELDS:
            object.__setattr__(self, name, None)
        self.is_running_flow = False
        self._tempdir: str | None = None
        self._extra: dict[str, Any] = {}

    def _set(self, **fields: Any) -> None:
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        self.is_running_flow = True

    def _set_extra(self, name: str, value: Any) -> None:
        """Plugins add fields (``current.card``) without this module knowing them."""
        self._extra[name] = value

    def __getattr__(self, name: str) -> Any:
        extra = self.__dict__.get("_extra", {})
        if name in extra:
            return extra[name]
        if name == "card":
            raise AttributeError("current.card exists in steps decorated with @card; add @card above @step.")
        raise AttributeError(f"current has no attribute {name!r}")

    @property
    def pathspec(self) -> str | None:
        if not self.is_running_flow:
            return None
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"

    @property
    def tempdir(self) -> str | None:
        """A per-task scratch directory, removed when the task ends."""
        if not self.is_running_flow:
            return None
        if self._tempdir is None:
            import tempfile

            self._tempdir = tempfile.mkdtemp(prefix=f"headwater-{self.step_name}-")
        return self._tempdir

    def __repr__(self) -> str:
        return f"<current {self.pathspec or '(not in a task)'}>"


current = Current()
