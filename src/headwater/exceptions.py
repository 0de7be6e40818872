"""Every error Headwater raises on purpose.

    HeadwaterException                 base: a headline plus a message that says what to do
    ├── FlowDefinitionError            the flow's code is wrong (lint findings, bad decorators)
    │   └── LintError                  one or more findings of ``check``
    ├── CommandError                   bad command-line input (unknown option, bad value)
    │   ├── ParameterError             a parameter or config value is missing or malformed
    │   └── NotAvailableYet            a Metaflow option value Headwater does not support yet
    ├── StepError                      a step broke a rule at run time (bad self.next, foreach)
    │   ├── MergeArtifactsError        merge_artifacts found conflicting values
    │   └── UnpicklableArtifactError   an artifact could not be stored (names the artifact)
    ├── DatastoreError                 the datastore is missing, corrupted, or cannot be written
    │   ├── DamagedBlobError           stored bytes that are not what was stored (names the blob)
    │   └── BlobWriteError             bytes that could not be written (disk full; names the path)
    ├── MetadataError                  the metadata database cannot be read or written
    └── ClientError                    the client was asked for something that does not exist
        └── NamespaceMismatch          the object exists but in another namespace

Errors from other libraries (sqlite3, OSError, boto3, ray) are translated at the layer that
calls them, so a user sees one of these with a sentence about their flow.

Apart from the tree, :class:`Interrupted` is a ``KeyboardInterrupt``: SIGTERM raised the way
Ctrl-C is, so both stop a run by the same path, while the records can say which it was.
"""

from __future__ import annotations


class HeadwaterException(Exception):
    headline = "Headwater error"
    exit_code = 1

    def __init__(self, message: str = "", *, where: str | None = None) -> None:
        self.message = message
        self.where = where  # "file.py:12" when the error points at the user's code
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class FlowDefinitionError(HeadwaterException):
    headline = "The flow is not valid"


class LintError(FlowDefinitionError):
    headline = "The flow failed validation"

    def __init__(self, findings: list) -> None:
        self.findings = findings
        super().__init__("\n".join(str(f) for f in findings))


class CommandError(HeadwaterException):
    headline = "Invalid command"
    exit_code = 2


class ParameterError(CommandError):
    headline = "Invalid parameter"


class NotAvailableYet(CommandError):
    headline = "Unsupported option"


class StepError(HeadwaterException):
    headline = "Step error"


class MergeArtifactsError(StepError):
    headline = "merge_artifacts failed"


class UnpicklableArtifactError(StepError):
    headline = "An artifact could not be stored"


class DatastoreError(HeadwaterException):
    headline = "Datastore error"


class DamagedBlobError(DatastoreError):
    """A blob's bytes are not the ones stored under its key (bit rot, a bad copy, a cut file).

    ``key``, ``location`` (path or URL) and ``reason`` let the caller, who knows which
    artifact of which task it is, say so (``datastore/damage.py``)."""

    headline = "Damaged artifact"

    def __init__(self, message: str, *, key: str = "", location: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.key, self.location, self.reason = key, location, reason


class BlobWriteError(DatastoreError):
    """Bytes could not be written (a full disk, a quota); nothing half-written was kept.
    ``path`` is the file being written, ``root`` the datastore, ``reason`` the system's words."""

    headline = "An artifact could not be stored"

    def __init__(self, message: str, *, path: str = "", root: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.path, self.root, self.reason = path, root, reason


class MetadataError(HeadwaterException):
    headline = "Metadata error"


class ClientError(HeadwaterException):
    headline = "Not found"


class TagError(ClientError, ValueError):
    """A tag that is not a string, is empty or too long, or is a system tag being removed."""

    headline = "Invalid tag"


class NamespaceMismatch(ClientError):
    headline = "Object not in the current namespace"


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or Ctrl-C passed on) raised as Ctrl-C's exception; ``by`` names the signal."""

    def __init__(self, by: str = "SIGTERM") -> None:
        super().__init__(interruption_message(by))
        self.by = by


def interrupted_by(exc: KeyboardInterrupt) -> str:
    """Which signal stopped the run: ``"SIGTERM"`` or ``"Ctrl-C (SIGINT)"``."""
    return exc.by if isinstance(exc, Interrupted) else "Ctrl-C (SIGINT)"


def interruption_message(by: str) -> str:
    """What a task stopped by ``by`` records and shows (``task.exception``, logs, the UI)."""
    return f"interrupted: the run was stopped by {by} while this task ran"
