"""A live card: the step appends to its card and refreshes it while it works."""

import time

from headwater import FlowSpec, card, current, step
from headwater.cards import Markdown


class CardFlow(FlowSpec):
    @card(type="blank", id="progress")
    @step
    def start(self):
        current.card["progress"].append(Markdown("# stage one"))
        current.card.refresh()
        time.sleep(3)
        current.card["progress"].append(Markdown("# stage two"))
        current.card.refresh()
        time.sleep(2)
        self.next(self.end)

    @card
    @step
    def end(self):
        self.greeting = "hello"


if __name__ == "__main__":
    CardFlow()
