"""What to install when a feature's module is missing: one line, never a traceback.

Each third-party module Headwater imports only for one feature is listed with that feature
and the pip command that brings it. Callers catch the ``ImportError`` where the feature
starts and raise :func:`missing` instead, so a user reads what to type, not a stack.
"""

from __future__ import annotations

from .exceptions import HeadwaterException

# module imported -> (the feature that needs it, the command that installs it)
NEEDED_BY: dict[str, tuple[str, str]] = {
    "starlette": ("headwater ui", "pip install 'starlette>=0.37' 'uvicorn>=0.29'"),
    "uvicorn": ("headwater ui", "pip install 'starlette>=0.37' 'uvicorn>=0.29'"),
    "boto3": ("S3", "pip install 'headwater[s3]'"),
    "botocore": ("S3", "pip install 'headwater[s3]'"),
}


class MissingDependency(HeadwaterException):
    headline = "Missing dependency"


def missing(exc: ImportError, feature: str | None = None) -> MissingDependency:
    """The one-line error for ``exc``, a failed import of a feature's module."""
    name = (exc.name or "").split(".")[0] or "a module"
    known_feature, command = NEEDED_BY.get(name, (feature or "this feature", f"pip install {name}"))
    what = feature or known_feature
    return MissingDependency(f"{what} needs {name}, which is not installed in this Python "
                             f"({exc.__class__.__name__}: {exc}). Install it: {command}")
