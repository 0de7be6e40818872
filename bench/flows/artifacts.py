"""artifacts: set 1,000 small artifacts in one step and read them all in the next."""

import json
import os

from metaflow import FlowSpec, step

COUNT = 1000


def record(name, value):
    with open(os.path.join(os.environ["BENCH_OUT"], name + ".json"), "w") as f:
        json.dump(value, f)


class ArtifactsFlow(FlowSpec):
    @step
    def start(self):
        for i in range(COUNT):
            setattr(self, f"a{i}", i)
        self.next(self.read)

    @step
    def read(self):
        self.total = sum(getattr(self, f"a{i}") for i in range(COUNT))
        self.next(self.end)

    @step
    def end(self):
        record("result", {"total": self.total})


if __name__ == "__main__":
    ArtifactsFlow()
