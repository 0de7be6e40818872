"""Parameters, an included file and a config.

    python examples/inputs.py run --alpha 0.2 --cities examples/cities.csv
    python examples/inputs.py --config-value cfg '{"model": {"name": "boost", "trees": 9}, "retries": 0}' run
    HEADWATER_RUN_ALPHA=0.9 python examples/inputs.py run
"""

import os

from headwater import Config, FlowSpec, IncludeFile, JSONType, Parameter, current, retry, step

HERE = os.path.dirname(os.path.abspath(__file__))


class InputsFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5, help="a learning rate")
    layers = Parameter("layers", default="64,32", separator=",", type=int, help="layer sizes")
    extra = Parameter("extra", type=JSONType, default='{"dropout": 0.1}')
    cities = IncludeFile("cities", default=os.path.join(HERE, "cities.csv"), help="a CSV file")
    cfg = Config("cfg", default=os.path.join(HERE, "config.json"))
    VERSION = "1.2"  # a class-level constant: stored with the run, read-only in steps

    @retry(times=cfg.retries, minutes_between_retries=0)  # a config value in a decorator
    @step
    def start(self):
        print("alpha", self.alpha, "layers", self.layers, "extra", self.extra)
        print("model", self.cfg.model.name, "with", self.cfg["model"]["trees"], "trees")
        print("parameters of this run:", current.parameter_names)
        self.rows = [line.split(",") for line in self.cities.strip().splitlines()[1:]]
        self.next(self.end)

    @step
    def end(self):
        print(len(self.rows), "cities, version", self.VERSION)


if __name__ == "__main__":
    InputsFlow()
