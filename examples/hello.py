"""The smallest useful flow: three steps in a line.

    python examples/hello.py run
"""

from headwater import FlowSpec, step


class HelloFlow(FlowSpec):
    @step
    def start(self):
        self.greeting = "hello"
        self.next(self.hello)

    @step
    def hello(self):
        print(self.greeting, "world")
        self.next(self.end)

    @step
    def end(self):
        print("done")


if __name__ == "__main__":
    HelloFlow()
