"""``flow._graph[name].parallel_step``: Metaflow's tooling asks every step whether it is a
``@parallel`` one (a gang of nodes)."""

from __future__ import annotations

from headwater import FlowSpec, parallel, retry, step


class PlainFlow(FlowSpec):
    @retry(times=1)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class GangFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=2)

    @parallel
    @step
    def train(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_only_a_parallel_step_is_a_parallel_step():
    flow = PlainFlow(use_cli=False)
    assert [flow._graph[s.name].parallel_step for s in flow] == [False, False]
    gang = GangFlow(use_cli=False)
    assert {s.name: gang._graph[s.name].parallel_step for s in gang} == {
        "start": False, "train": True, "join": False, "end": False}
    assert gang._graph["start"].type == "foreach", "as Metaflow types the step before a gang"
