"""Conditional transitions: choose a branch at run time, and loop until done.

    python examples/conditional.py run --target 40
"""

from headwater import FlowSpec, Parameter, step


class ConditionalFlow(FlowSpec):
    target = Parameter("target", default=20, help="keep doubling until we pass this")

    @step
    def start(self):
        self.value = 1
        self.next(self.double)

    @step
    def double(self):
        # Each pass through this step is a new task, recorded like any other.
        self.value *= 2
        self.status = "done" if self.value >= self.target else "again"
        print("value", self.value)
        self.next({"again": self.double, "done": self.check}, condition="status")

    @step
    def check(self):
        self.size = "big" if self.value > 50 else "small"
        self.next({"big": self.big, "small": self.small}, condition="size")

    @step
    def big(self):
        print("a big number:", self.value)
        self.next(self.end)

    @step
    def small(self):
        print("a small number:", self.value)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ConditionalFlow()
