"""Nested foreach: every (model, fold) pair is its own task.

    python examples/foreach_nested.py run
"""

from headwater import FlowSpec, step


class GridFlow(FlowSpec):
    @step
    def start(self):
        self.models = ["ridge", "lasso"]
        self.next(self.per_model, foreach="models")

    @step
    def per_model(self):
        self.model = self.input
        self.folds = [0, 1, 2]
        self.next(self.fit, foreach="folds")

    @step
    def fit(self):
        # foreach_stack(): (index, number of splits, value) for each enclosing foreach
        print("fitting", self.model, "fold", self.input, self.foreach_stack())
        self.score = 0.7 + 0.05 * self.input + (0.1 if self.model == "ridge" else 0.0)
        self.next(self.per_model_join)

    @step
    def per_model_join(self, inputs):
        self.model = inputs[0].model
        self.mean_score = sum(i.score for i in inputs) / len(inputs)
        self.next(self.all_join)

    @step
    def all_join(self, inputs):
        self.scores = {i.model: round(i.mean_score, 3) for i in inputs}
        self.next(self.end)

    @step
    def end(self):
        print("mean score per model:", self.scores)


if __name__ == "__main__":
    GridFlow()
