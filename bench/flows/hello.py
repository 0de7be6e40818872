"""hello: the smallest useful flow, start -> hello -> end."""

from metaflow import FlowSpec, step


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
        pass


if __name__ == "__main__":
    HelloFlow()
