"""Run records: flows, runs, tasks, attempts, artifacts index, tags."""

from .sqlite import PARAMS_STEP, PARAMS_TASK, SQLiteMetadata, Status

__all__ = ["PARAMS_STEP", "PARAMS_TASK", "SQLiteMetadata", "Status"]
