"""`@parallel` on Ray: a gang is one placement group, all of it placed or none of it."""

from __future__ import annotations

GANG = """
import time

class RayGangFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=NODES)

    @ray(cpu=CPUS)
    @parallel
    @step
    def train(self):
        p = current.parallel
        print("node", p.node_index, "of", p.num_nodes, "main", p.main_ip)
        self.node = (p.node_index, p.num_nodes, p.main_ip)
        self.started = time.time()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.nodes = [i.node for i in inputs]
        self.spread = max(i.started for i in inputs) - min(i.started for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    RayGangFlow()
"""


def test_a_gang_runs_as_one_placement_group_on_the_cluster(rd):
    rd.HEADER = rd.HEADER.rstrip("\n") + ", parallel\n"
    rd.write(GANG.replace("NODES", "3").replace("CPUS", "1"))
    done = rd.run()
    assert done.returncode == 0, done
    for i in range(3):
        assert f"node {i} of 3 main 127.0.0.1" in done.stdout
    with rd.client() as hw:
        run = hw.Run("RayGangFlow/1")
        assert run.data.nodes == [(0, 3, "127.0.0.1"), (1, 3, "127.0.0.1"), (2, 3, "127.0.0.1")]
        assert run.data.spread < 30
        assert {t.metadata_dict["executor"] for t in run["train"]} == {"ray"}


def test_a_gang_the_cluster_cannot_hold_fails_with_what_it_asked_and_what_there_is(rd):
    rd.HEADER = rd.HEADER.rstrip("\n") + ", parallel\n"
    rd.write(GANG.replace("NODES", "3").replace("CPUS", "2"))
    done = rd.run()
    assert done.returncode != 0
    assert "the 3 nodes of step 'train' ask for 3 x 2 CPU, more than the whole Ray cluster has (4 CPU" \
        in done.stdout, done
    assert "Traceback" not in done.stdout + done.stderr
