"""The scheduler of one run: queues tasks from the graph, runs attempts on an executor."""
