"""Train a tiny model over a grid of learning rates and keep the best one.

    python examples/train.py run
    python examples/train.py run --epochs 50 --tag experiment
    python examples/train.py run --executor subprocess    # each task in a fresh interpreter

Pure Python, so it runs right after `pip install -e .`.
"""

import random

from headwater import FlowSpec, Parameter, current, step


def make_data(n, seed):
    rng = random.Random(seed)
    xs = [rng.uniform(-3, 3) for _ in range(n)]
    return [(x, 2.5 * x - 1.0 + rng.gauss(0, 0.3)) for x in xs]


class TrainFlow(FlowSpec):
    """Fit y = w*x + b by gradient descent for several learning rates, in parallel."""

    epochs = Parameter("epochs", default=30, help="passes over the data")
    samples = Parameter("samples", default=200, help="size of the training set")

    @step
    def start(self):
        """Make a data set and the grid of learning rates to try."""
        self.data = make_data(self.samples, seed=7)
        self.rates = [0.001, 0.003, 0.01, 0.03, 0.1]
        print(f"{len(self.data)} samples, trying {len(self.rates)} learning rates")
        self.next(self.train, foreach="rates")

    @step
    def train(self):
        """One learning rate per task."""
        lr, w, b = self.input, 0.0, 0.0
        for _ in range(self.epochs):
            for x, y in self.data:
                err = (w * x + b) - y
                w -= lr * err * x
                b -= lr * err
        self.lr = lr
        self.model = {"w": w, "b": b}
        self.loss = sum(((w * x + b) - y) ** 2 for x, y in self.data) / len(self.data)
        print(f"lr={lr:<6} loss={self.loss:.4f} w={w:.3f} b={b:.3f}")
        self.next(self.choose)

    @step
    def choose(self, inputs):
        """Keep the model with the lowest loss."""
        best = min(inputs, key=lambda i: i.loss)
        self.best_lr, self.best_loss, self.model = best.lr, best.loss, best.model
        self.losses = {i.lr: round(i.loss, 4) for i in inputs}
        self.next(self.end)

    @step
    def end(self):
        print(f"best lr {self.best_lr}: loss {self.best_loss:.4f}, model {self.model}")
        print(f"Find this model later: Flow('TrainFlow')['{current.run_id}'].data.model")


if __name__ == "__main__":
    TrainFlow()
