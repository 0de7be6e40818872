"""Scale out on Ray: a wide foreach as Ray tasks, then a gang of nodes that work together.

    pip install -e '.[ray]'
    python examples/ray_parallel.py run                 # no cluster named: a local Ray for the run
    HEADWATER_RAY_ADDRESS=HOST:6379 python examples/ray_parallel.py run   # your cluster

``@ray`` puts a step's tasks on the cluster (here each asks for one CPU); ``@parallel`` with
``num_parallel=`` starts a gang whose nodes run at the same time and know their place
(``current.parallel``), as distributed training needs. Here each node fits a slope on its
shard of the data and node 0's address is where a real job would rendezvous
(``torch.distributed.init_process_group(init_method=f"tcp://{main_ip}:29500", ...)``); the
join averages the nodes' results. Without a cluster, drop the ``@ray`` lines: the same flow
runs its gang as processes of this machine.
"""

from headwater import FlowSpec, Parameter, current, parallel, ray, step


class RayParallelFlow(FlowSpec):
    """Score many candidate settings as Ray tasks, then fit the best one on a gang of nodes."""

    candidates = Parameter("candidates", default=20, help="settings to score, one Ray task each")
    nodes = Parameter("nodes", default=2, help="nodes of the training gang")

    @step
    def start(self):
        """Make a small data set and the settings to try."""
        import random

        rng = random.Random(7)
        self.points = [(x / 10, 3.0 * x / 10 + rng.gauss(0, 0.3)) for x in range(200)]
        self.settings = [round(0.5 + i * 0.25, 2) for i in range(self.candidates)]
        self.next(self.score, foreach="settings")

    @ray(cpu=1)
    @step
    def score(self):
        """One Ray task per setting: the squared error of that slope."""
        slope = self.tried = self.input
        self.error = sum((y - slope * x) ** 2 for x, y in self.points)
        print(f"slope {slope}: error {self.error:.1f}")
        self.next(self.pick)

    @step
    def pick(self, inputs):
        """The best setting starts the training."""
        best = min(inputs, key=lambda i: i.error)
        self.start_slope = best.tried
        self.points = inputs[0].points
        print("starting from slope", self.start_slope)
        self.next(self.launch)

    @step
    def launch(self):
        """Start the training gang: this many nodes, all at once."""
        self.next(self.train, num_parallel=self.nodes)

    @ray(cpu=1)
    @parallel
    @step
    def train(self):
        """Each node refines the slope on its shard (every nodes-th point)."""
        node = current.parallel
        shard = self.points[node.node_index::node.num_nodes]
        slope = self.start_slope
        for _ in range(200):
            grad = sum(-2 * x * (y - slope * x) for x, y in shard) / len(shard)
            slope -= 0.001 * grad
        self.slope = slope
        print(f"node {node.node_index} of {node.num_nodes} (main {node.main_ip}): slope {slope:.3f}")
        self.next(self.join)

    @step
    def join(self, inputs):
        """Average what the nodes found."""
        self.slope = sum(i.slope for i in inputs) / len(inputs)
        self.next(self.end)

    @step
    def end(self):
        print(f"fitted slope: {self.slope:.3f} (the data's is 3.0)")


if __name__ == "__main__":
    RayParallelFlow()
