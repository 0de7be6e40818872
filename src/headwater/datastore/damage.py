"""What a user is told when an artifact's stored bytes are damaged, and which step to re-run.

The blob layer knows the key and the path (``DamagedBlobError``); a task, or the client,
knows which artifact of which task it was loading. ``damaged_artifact`` says both in one
message, with the way out: re-run the step that produced the value, by resuming the run from
it; storing the value again replaces the damaged copy. That step is found in the run's
records: an artifact passed on unchanged keeps its key in every task after the one that set
it, so the walk goes up the parents while they hold the same key.
"""

from __future__ import annotations

from ..exceptions import DamagedBlobError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

PARAMS_STEP = "_parameters"  # headwater.metadata.vocabulary (not imported for an error message)
_MAX_WALK = 10_000  # tasks looked at, at most (a loop's chain can be long)


def producing_task(reader: Any, flow: str, run: int, task_id: int, name: str,
                   key: str) -> tuple[str, int] | None:
    """``(step, task id)`` of the first task of ``run`` that stored ``key`` as ``name`` on the
    way to ``task_id``, or None when the records cannot say."""
    try:
        row = reader.task(flow, run, task_id)
        if row is None:
            return None
        for _ in range(_MAX_WALK):
            for parent_id in row.parent_ids:
                parent = reader.task(flow, run, parent_id)
                if parent is None:
                    continue
                held = {a.name: a.key for a in reader.artifacts(flow, run, parent_id, parent.attempt)}
                if held.get(name) == key:
                    row = parent
                    break
            else:
                break
        return row.step, int(row.task_id)
    except Exception:  # noqa: BLE001 - only a better hint: the message stands without it
        return None


def damaged_artifact(exc: DamagedBlobError, *, name: str, flow: str, run: int | str, step: str,
                     task_id: int | str, reader: Any = None, script: str | None = None,
                     shown: str | None = None) -> DamagedBlobError:
    """The error for artifact ``name`` of task ``flow/run/step/task_id`` whose blob is damaged:
    the artifact, the task, the path, and how to recover. ``shown`` is how the user wrote the
    name (``self.x`` in a step); ``script`` the flow file, for the command to run."""
    what = shown or repr(name)
    task = f"{flow}/{run}/{step}/{task_id}"
    where = exc.location or "its blob"
    why = exc.reason or "its content does not match its key"
    head = (f"the artifact {what} of task {task} cannot be read: its stored bytes at {where} are "
            f"damaged ({why}), so they are not used.")
    if step == PARAMS_STEP:
        fix = ("It is a parameter, config or class constant of the run: start a new run, which "
               "stores it again and replaces the damaged copy.")
    else:
        found = producing_task(reader, flow, int(run), int(task_id), name, exc.key) if reader else None
        made_in, made_by = found if found else (step, task_id)
        by = "" if str(made_by) == str(task_id) else f" (task {flow}/{run}/{made_in}/{made_by}; it was passed on unchanged to {step})"
        fix = (f"Re-run the step that produced it, {made_in}{by}: `python {script or '<flow file>'} resume "
               f"--origin-run-id {run} {made_in}` stores it again and replaces the damaged copy.")
    return DamagedBlobError(f"{head} {fix}", key=exc.key, location=exc.location, reason=exc.reason)
