"""Read past and running runs: ``Flow``, ``Run``, ``Step``, ``Task``, ``DataArtifact``.

Same names and behaviour as Metaflow's client, reading the local ``.headwater`` datastore (found
through ``HEADWATER_HOME`` or the nearest ``.headwater`` directory upwards)::

    from headwater import Flow, namespace

    run = Flow("TrainFlow").latest_successful_run
    run.data.best                           # an artifact of the end step
    run["train"].task.stdout                # a task's output
    namespace(None)                         # see everyone's runs, not just yours

Modules: ``flow`` (Flow, Metaflow), ``run``, ``step``, ``task``, ``artifact`` (the objects),
``namespace``, ``tags`` (tag rules and changes), ``code`` (code packages), ``records`` (the
row types), ``stores`` (finding the datastore; its ``reader`` answers every read), ``errors``,
``display`` (HTML).
"""

from .artifact import DataArtifact
from .code import CodePackage
from .errors import (
    ArtifactNotFound,
    ClientError,
    InvalidPathspec,
    NamespaceMismatch,
    ObjectNotFound,
    TagError,
)
from .flow import Flow, Metaflow
from .namespace import default_namespace, get_namespace, namespace
from .run import Run
from .step import Step
from .task import Task, TaskArtifacts, TaskData, TaskException

__all__ = [
    "ArtifactNotFound",
    "ClientError",
    "CodePackage",
    "DataArtifact",
    "Flow",
    "InvalidPathspec",
    "Metaflow",
    "NamespaceMismatch",
    "ObjectNotFound",
    "Run",
    "Step",
    "TagError",
    "Task",
    "TaskArtifacts",
    "TaskData",
    "TaskException",
    "default_namespace",
    "get_namespace",
    "namespace",
]
