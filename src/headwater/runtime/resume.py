"""Resume: a new run that reuses the successful work of an earlier one.

The new run walks the graph exactly as a fresh run would. Before a task is launched the
scheduler asks :class:`Cloner` whether the origin run already has that task done: the same
step, reached from the same (cloned) parents, at the same foreach position. If so, and the
step is not one the user asked to re-run, the task is *cloned*: its records and artifact
references are copied (no bytes move, no process starts) and the origin's transition is
replayed. Anything downstream of a task that really runs has new parents, so it runs too.
That gives Metaflow's behaviour in every graph shape: only failed foreach splits re-run,
loops replay iteration by iteration, and ``resume STEP`` re-runs STEP and all after it.

The origin run is read through a :class:`~headwater.metadata.provider.MetadataReader`; the
writer is used only to record clones.
"""

from __future__ import annotations

import json

from ..exceptions import CommandError
from ..metadata.vocabulary import Status
from .state import TaskInfo

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

    from ..metadata.provider import MetadataReader, MetadataWriter
    from ..metadata.summaries import OriginTask


def find_origin_run(reader: MetadataReader, flow: str, origin_run_id: str | None, user: str) -> int:
    """The run to resume: the given id, else the latest run of this flow by this user."""
    if origin_run_id is not None:
        if not str(origin_run_id).isdigit():
            raise CommandError(f"--origin-run-id {origin_run_id!r} is not a run id; run ids are numbers.")
        number = int(origin_run_id)
        if reader.run(flow, number) is None:
            others = []
            for other in reader.flow_names():
                if other != flow and reader.run(other, number) is not None:
                    others.append(other)
                    if len(others) == 3:
                        break
            extra = ""
            if others:
                extra = f" (run {origin_run_id} exists for {', '.join(others)}, another flow)"
            raise CommandError(
                f"{flow} has no run {origin_run_id}{extra}. List its runs with `headwater runs {flow}`."
            )
        return number
    from ..metadata.summaries import RunFilter

    rows, _ = reader.run_page(flow, RunFilter(user=user), 1, 1)
    if not rows:
        raise CommandError(f"{flow} has no runs by {user} to resume; start one with `run` first.")
    return int(rows[0].number)


class Cloner:
    """Answers "was this task already done in the origin run?" and copies it if so.

    Reads the origin run through ``reader`` (kept open for the run's clones: ``close()`` it)
    and records clones through ``md``.
    """

    def __init__(self, reader: MetadataReader, md: MetadataWriter, graph: Any, flow: str, origin_run: int,
                 rerun_from: str | None) -> None:
        self.reader = reader
        self.md = md
        self.flow = flow
        self.origin_run = origin_run
        self.rerun = _downstream(graph, rerun_from) if rerun_from else set()
        self.by_position: dict[tuple, OriginTask] = {}
        self.origin_of: dict[int, int] = {0: 0}  # new task id -> origin task id (0: parameters)
        for origin in reader.origin_tasks(flow, origin_run):
            frames = json.loads(origin.foreach_stack) if origin.foreach_stack else []
            index = frames[-1]["index"] if frames else None
            key = (origin.step, tuple(json.loads(origin.parents) if origin.parents else ()), index)
            self.by_position[key] = origin

    def origin_for(self, task: TaskInfo) -> OriginTask | None:
        """The origin run's finished task at ``task``'s place, if ``task`` may be cloned."""
        if task.step in self.rerun:
            return None
        parents = []
        for parent_id, _, _ in task.parents:
            if parent_id not in self.origin_of:
                return None  # a parent really ran, so this task must run too
            parents.append(self.origin_of[parent_id])
        index = task.frames[-1]["index"] if task.frames else None
        origin = self.by_position.get((task.step, tuple(parents), index))
        if origin is None or origin.status != Status.SUCCEEDED.value or not origin.transition:
            return None
        return origin

    def try_clone(self, task: TaskInfo) -> dict[str, Any] | None:
        """Clone ``task`` if the origin run finished it; return the origin's result, else None."""
        origin = self.origin_for(task)
        if origin is None:
            return None
        self.md.clone_task(self.flow, self._run, task.task_id, origin_run=self.origin_run,
                           origin_task=origin.task_id, parents=[p[0] for p in task.parents],
                           foreach_stack=task.frames or None)
        self.origin_of[task.task_id] = origin.task_id
        task.attempt = origin.attempt  # children read the artifacts of this attempt
        artifacts = self.reader.artifacts(self.flow, self.origin_run, origin.task_id, origin.attempt)
        return dict(json.loads(origin.transition), ok=True,
                    artifacts=[(a.name, a.key, a.type, a.size) for a in artifacts])

    def bind(self, run: int) -> None:
        self._run = run

    def close(self) -> None:
        """Release the reader of the origin run."""
        self.reader.close()


def _downstream(graph: Any, step: str) -> set[str]:
    if step not in graph:
        import difflib

        names = [n.name for n in graph]
        close = difflib.get_close_matches(step, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise CommandError(f"resume: the flow has no step {step!r}.{hint} "
                           f"Its steps are: {', '.join(names)}.")
    seen: set[str] = set()
    todo = [step]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph[name].out_funcs)
    return seen
