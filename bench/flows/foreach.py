"""foreach: fan out BENCH_N trivial tasks and join them."""

import json
import os

from metaflow import FlowSpec, step


def record(name, value):
    with open(os.path.join(os.environ["BENCH_OUT"], name + ".json"), "w") as f:
        json.dump(value, f)


class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(int(os.environ["BENCH_N"])))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.y = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(inp.y for inp in inputs)
        self.next(self.end)

    @step
    def end(self):
        record("result", {"total": self.total})


if __name__ == "__main__":
    ForeachFlow()
