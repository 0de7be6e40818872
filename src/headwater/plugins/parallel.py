"""``@parallel``: the step runs as a gang of nodes that start together.

The step before it says how many: ``self.next(self.train, num_parallel=4)``. Each node sees
``current.parallel`` (``num_nodes``, ``node_index``, ``main_ip``, ``control_task_id``) and
the same values in ``MF_PARALLEL_*`` variables, for torch.distributed, DeepSpeed or Ray Train
inside. Locally the nodes are processes of this machine; with ``@ray`` they are Ray tasks
placed together by a placement group. If one node fails, the others are stopped and the step
fails, or, with ``@retry``, the whole gang runs again. The join after it gets one input per
node.
"""

from __future__ import annotations

from ..decorators import StepDecorator


class parallel(StepDecorator):  # noqa: N801
    name = "parallel"
    defaults: dict = {}

    def runtime_gang(self) -> bool:
        return True
