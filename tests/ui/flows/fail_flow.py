"""A flow that needs a retry in one step and then fails in the next, with a traceback."""

import sys

from headwater import FlowSpec, current, retry, step


class FailFlow(FlowSpec):
    @step
    def start(self):
        self.rows = 3
        self.next(self.flaky)

    @retry(times=1, minutes_between_retries=0)
    @step
    def flaky(self):
        print(f"attempt {current.retry_count}")
        if current.retry_count == 0:
            print("connection reset, retrying", file=sys.stderr)
            raise ConnectionError("first attempt always fails")
        self.fetched = list(range(self.rows))
        self.next(self.parse)

    @step
    def parse(self):
        print("parsing", self.fetched)
        check(self.fetched)
        self.next(self.end)

    @step
    def end(self):
        pass


def check(rows):
    raise ValueError(f"row {rows[-1]} is <malformed>")


if __name__ == "__main__":
    FailFlow()
