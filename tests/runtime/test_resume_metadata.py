"""In a resumed run every task's metadata names the run it resumed (``origin-run-id``), as in
Metaflow; only a task cloned from that run also names its origin task (``origin-task-id``)."""

from __future__ import annotations

FLOW = """
import os


class ResumedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        if os.environ.get("FAIL_END"):
            raise RuntimeError("end fails the first time")

if __name__ == "__main__":
    ResumedFlow()
"""


def test_reexecuted_and_cloned_tasks_name_the_origin_run(fd):
    fd.write(FLOW)
    first = fd.run(FAIL_END="1")
    assert first.returncode == 1, first
    done = fd.resume()
    assert done.returncode == 0, done
    origin, run_id = first.run_id("ResumedFlow"), done.run_id("ResumedFlow")
    with fd.client() as hw:
        resumed = hw.Run(f"ResumedFlow/{run_id}")
        cloned = resumed["start"].task.metadata_dict
        assert cloned["origin-run-id"] == str(origin) and "origin-task-id" in cloned
        rerun = resumed["end"].task.metadata_dict
        assert rerun["origin-run-id"] == str(origin) and "origin-task-id" not in rerun
        original = hw.Run(f"ResumedFlow/{origin}")["start"].task.metadata_dict
        assert "origin-run-id" not in original
