"""resume: a 10-step linear flow whose last step fails while BENCH_FAIL=1."""

import json
import os

from metaflow import FlowSpec, step


def record(name, value):
    with open(os.path.join(os.environ["BENCH_OUT"], name + ".json"), "w") as f:
        json.dump(value, f)


class ResumeFlow(FlowSpec):
    @step
    def start(self):
        self.trail = ["start"]
        self.next(self.s1)

    @step
    def s1(self):
        self.trail = self.trail + ["s1"]
        self.next(self.s2)

    @step
    def s2(self):
        self.trail = self.trail + ["s2"]
        self.next(self.s3)

    @step
    def s3(self):
        self.trail = self.trail + ["s3"]
        self.next(self.s4)

    @step
    def s4(self):
        self.trail = self.trail + ["s4"]
        self.next(self.s5)

    @step
    def s5(self):
        self.trail = self.trail + ["s5"]
        self.next(self.s6)

    @step
    def s6(self):
        self.trail = self.trail + ["s6"]
        self.next(self.s7)

    @step
    def s7(self):
        self.trail = self.trail + ["s7"]
        self.next(self.s8)

    @step
    def s8(self):
        self.trail = self.trail + ["s8"]
        self.next(self.end)

    @step
    def end(self):
        if os.environ.get("BENCH_FAIL") == "1":
            raise RuntimeError("failing on purpose (BENCH_FAIL=1)")
        record("result", {"trail": self.trail + ["end"]})


if __name__ == "__main__":
    ResumeFlow()
