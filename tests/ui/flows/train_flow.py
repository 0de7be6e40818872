"""A small training flow for the UI tests and screenshots: parameters, a foreach, a join,
artifacts of several kinds (including text that looks like HTML), logs on both streams."""

import random
import sys
import time

from headwater import FlowSpec, Parameter, current, step


class TrainFlow(FlowSpec):
    """Fit a line for several learning rates in parallel and keep the best."""

    alpha = Parameter("alpha", default=0.5, help="regularisation")
    epochs = Parameter("epochs", default=5, help="passes over the data")
    work = Parameter("work", default=0.0, help="seconds each training task pretends to work")
    gate = Parameter("gate", default=1.0, help="fail if the best loss is above this")

    @step
    def start(self):
        rng = random.Random(7)
        self.data = [(x / 10, 2.5 * x / 10 - 1 + rng.gauss(0, 0.2)) for x in range(-30, 30)]
        self.rates = [0.001, 0.01, 0.03, 0.1]
        self.note = "<script>alert('not escaped')</script> & friends"
        print(f"{len(self.data)} samples, {len(self.rates)} learning rates")
        self.next(self.train, foreach="rates")

    @step
    def train(self):
        lr, w, b = self.input, 0.0, 0.0
        for epoch in range(self.epochs):
            for x, y in self.data:
                err = (w * x + b) - y
                w -= lr * err * x
                b -= lr * err
            if self.work:
                time.sleep(self.work / self.epochs)
            print(f"epoch {epoch + 1}/{self.epochs} lr={lr} w={w:.3f} b={b:.3f}")
        self.lr = lr
        self.model = {"w": round(w, 4), "b": round(b, 4)}
        self.loss = sum(((w * x + b) - y) ** 2 for x, y in self.data) / len(self.data)
        print(f"lr={lr} loss={self.loss:.4f}", file=sys.stderr)
        self.next(self.choose)

    @step
    def choose(self, inputs):
        best = min(inputs, key=lambda i: i.loss)
        self.best_lr, self.best_loss, self.model = best.lr, best.loss, best.model
        self.losses = {i.lr: round(i.loss, 4) for i in inputs}
        if self.best_loss > self.gate:
            raise ValueError(f"best loss {self.best_loss:.4f} is above the gate {self.gate}")
        self.next(self.end)

    @step
    def end(self):
        print(f"best lr {self.best_lr}: loss {self.best_loss:.4f} (run {current.run_id})")


if __name__ == "__main__":
    TrainFlow()
