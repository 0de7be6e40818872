"""When things fail: @retry, @catch, @timeout, and resume.

    python examples/failures.py run              # 'flaky' succeeds on its 2nd attempt,
                                                 # 'risky' fails but @catch lets the flow go on,
                                                 # 'report' fails unless FIXED=1 is set
    FIXED=1 python examples/failures.py resume   # re-runs only 'report', clones the rest
"""

import os
import time

from headwater import FlowSpec, catch, current, retry, step, timeout


class FailureFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky, self.risky)

    @retry(times=2, minutes_between_retries=0)
    @step
    def flaky(self):
        if current.retry_count == 0:
            raise ConnectionError("the API timed out (first attempt only)")
        self.rows = 100
        self.next(self.join)

    @catch(var="risky_error")
    @timeout(seconds=2)
    @step
    def risky(self):
        time.sleep(10)  # too slow: @timeout stops it, @catch records it
        self.next(self.join)

    @step
    def join(self, inputs):
        self.rows = inputs.flaky.rows
        self.risky_error = inputs.risky.risky_error
        print("risky step:", self.risky_error)
        self.next(self.report)

    @step
    def report(self):
        if not os.environ.get("FIXED"):
            raise ValueError("report template missing; set FIXED=1 and resume")
        print("report on", self.rows, "rows")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FailureFlow()
