"""bigarray: persist one large incompressible float64 array, then load it and sum it.

Timestamps go to side files in BENCH_OUT so the harness needs no client to read them.
"""

import json
import os
import time

import numpy as np
from metaflow import FlowSpec, step


def record(name, value):
    with open(os.path.join(os.environ["BENCH_OUT"], name + ".json"), "w") as f:
        json.dump(value, f)


class BigArrayFlow(FlowSpec):
    @step
    def start(self):
        n = int(os.environ["BENCH_ARRAY_MIB"]) * 2**20 // 8
        self.arr = np.random.default_rng().random(n)
        self.expected = float(self.arr.sum())
        record("created", time.time())
        self.next(self.load)

    @step
    def load(self):
        t0 = time.time()
        total = float(self.arr.sum())
        t1 = time.time()
        record("loaded", {"start": t0, "end": t1})
        self.ok = total == self.expected
        self.next(self.end)

    @step
    def end(self):
        record("result", {"ok": self.ok})


if __name__ == "__main__":
    BigArrayFlow()
