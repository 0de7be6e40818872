"""A static split: two branches run in parallel and a join merges them.

    python examples/branches.py run
"""

from headwater import FlowSpec, step


class BranchFlow(FlowSpec):
    @step
    def start(self):
        self.dataset = "iris"
        self.next(self.fast, self.slow)

    @step
    def fast(self):
        self.score = 0.81
        self.next(self.join)

    @step
    def slow(self):
        self.score = 0.93
        self.next(self.join)

    @step
    def join(self, inputs):
        # Reach a branch by its step name, or iterate in split order.
        print("fast", inputs.fast.score, "slow", inputs.slow.score)
        self.best = max(i.score for i in inputs)
        # `dataset` is equal in both branches, so it merges; `score` differs, so skip it.
        self.merge_artifacts(inputs, exclude=["score"])
        self.next(self.end)

    @step
    def end(self):
        print(f"best score on {self.dataset}: {self.best}")


if __name__ == "__main__":
    BranchFlow()
