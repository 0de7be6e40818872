"""A flow whose first step prints a line, waits, then prints another: for following logs."""

import time

from headwater import FlowSpec, Parameter, step


class LiveFlow(FlowSpec):
    pause = Parameter("pause", default=4.0)

    @step
    def start(self):
        print("first line", flush=True)
        time.sleep(self.pause)
        print("second line", flush=True)
        self.next(self.end)

    @step
    def end(self):
        print("done")


if __name__ == "__main__":
    LiveFlow()
