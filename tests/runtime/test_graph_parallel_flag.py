"""``flow._graph[name].parallel_step``: Metaflow's tooling asks every step whether it is a
``@parallel`` one; without multi-node steps in Headwater the answer is always False."""

from __future__ import annotations

from headwater import FlowSpec, retry, step


class PlainFlow(FlowSpec):
    @retry(times=1)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_no_step_is_a_parallel_step():
    flow = PlainFlow(use_cli=False)
    assert [flow._graph[s.name].parallel_step for s in flow] == [False, False]
