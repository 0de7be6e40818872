"""Cards: a report per task, as one self-contained HTML file.

    python examples/cards.py run
    python examples/cards.py card list <RUN>/train/2
    python examples/cards.py card view <RUN>/train/2 --id report   # live while it runs
    python examples/cards.py card get <RUN>/end/3 end.html

`start` gets the default card (its artifacts with previews, and the graph); `train` a blank
card the step fills with Markdown, a table, an image and a progress bar that it refreshes
while it works; `end` a card type defined below.
"""

import math
import struct
import time
import zlib

from headwater import FlowSpec, Parameter, card, current, step
from headwater.cards import CardBase, Image, Markdown, ProgressBar, Table, ValueBox


def heatmap_png(width: int = 96, height: int = 48) -> bytes:
    """A small PNG drawn without any imaging library (use Image.from_matplotlib(fig) if you have it)."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # PNG filter type 0 for the row
        for x in range(width):
            v = 0.5 + 0.5 * math.sin(x / 9.0) * math.cos(y / 7.0)
            row += bytes([int(255 * v), 90, int(255 * (1 - v))])
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


class ScoreCard(CardBase):
    """A custom card type: a one-line verdict on the run's score."""

    type = "scorecard"

    def render(self, task) -> str:
        score = task.data.score
        verdict = "ship it" if score >= self.options.get("threshold", 0.8) else "keep training"
        return f"<h1>Score {score:.3f}</h1><p>Verdict: <strong>{verdict}</strong></p>"


class CardsFlow(FlowSpec):
    epochs = Parameter("epochs", default=5, help="how many epochs to train")

    @card
    @step
    def start(self):
        self.config = {"model": "gbm", "depth": 4, "learning_rate": 0.1}
        self.heatmap = heatmap_png()  # PNG bytes show as an image on the default card
        self.next(self.train)

    @card(type="blank", id="report")
    @step
    def train(self):
        report = current.card["report"]
        report.append(Markdown(f"# Training\nModel **{self.config['model']}**, {self.epochs} epochs."))
        bar = ProgressBar(max=self.epochs, label="epochs")
        report.append(bar)
        losses = []
        for epoch in range(1, self.epochs + 1):
            time.sleep(0.4)  # stand-in for real work
            losses.append(round(1.0 / epoch, 3))
            bar.update(epoch)
            current.card.refresh()  # a live card: `card view` shows it while the step runs
        report.append(Table([[i + 1, loss] for i, loss in enumerate(losses)], headers=["epoch", "loss"]))
        report.append(Image(self.heatmap, label="feature heat map"))
        self.score = 1.0 - losses[-1] / 2
        report.append(ValueBox("score", round(self.score, 3)))
        self.next(self.end)

    @card(type="scorecard", options={"threshold": 0.85})
    @step
    def end(self):
        print("score", self.score)


if __name__ == "__main__":
    CardsFlow()
