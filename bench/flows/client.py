"""client: a tiny flow stored many times, then read back through the client API."""

import os

from metaflow import FlowSpec, step


class ClientFlow(FlowSpec):
    @step
    def start(self):
        self.x = int(os.environ.get("BENCH_X", "0"))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ClientFlow()
