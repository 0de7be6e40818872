"""The S3 connection every S3 user shares: one boto3 client per process, and errors in words.

The endpoint comes from ``HEADWATER_S3_ENDPOINT_URL`` (a non-AWS server: SeaweedFS, MinIO,
Ceph, R2), credentials from the standard AWS chain (environment, profiles, instance roles).
boto3 is the optional extra ``headwater[s3]``; without it, the first use says what to install.

Every call is retried by botocore a bounded number of times with backoff (``standard`` mode:
throttling, 5xx answers, dropped connections), then fails with one line naming what was
asked, the endpoint, the bucket and the S3 error (:func:`s3_error`).
"""

from __future__ import annotations

import os
import threading

from ..exceptions import DatastoreError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import Any

ENDPOINT_ENV = "HEADWATER_S3_ENDPOINT_URL"
ATTEMPTS = 4  # tries of one call (the first and three retries), with exponential backoff (~7 s)
MISSING_EXTRA = "S3 needs boto3, which is not installed: pip install 'headwater[s3]'"

_clients: dict[tuple, Any] = {}
_unused: dict[tuple, Any] = {}  # made before a fork and never used: a forked child may adopt it
_lock = threading.Lock()


def endpoint() -> str | None:
    """The S3 endpoint URL, or None for AWS itself."""
    return os.environ.get(ENDPOINT_ENV) or None


def where() -> str:
    return endpoint() or "AWS S3"


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")`` (no trailing slash)."""
    if not url.startswith("s3://"):
        raise DatastoreError(f"{url!r} is not an S3 URL; write it as s3://bucket/prefix.")
    bucket, _, prefix = url[5:].partition("/")
    if not bucket:
        raise DatastoreError(f"{url!r} names no bucket; write it as s3://bucket/prefix.")
    return bucket, prefix.strip("/")


def client(*, quick: bool = False) -> Any:
    """The process's S3 client (thread-safe; a forked child makes its own).

    ``quick``: few retries and short timeouts, for the checks that must fail fast.
    """
    key = (os.getpid(), endpoint(), quick)
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(key)
        if found is None:
            # A client made by the fork template has no connection yet, so a forked task can
            # take its copy and skip building one (tens of ms of loading service models).
            found = _unused.pop((endpoint(), quick), None) or _make_client(quick)
            _clients[key] = found
    return found


def prepare_for_fork() -> None:
    """Build a client without using it, for the processes this one will fork."""
    key = (endpoint(), False)
    if key not in _unused:
        try:
            _unused[key] = _make_client(False)
        except DatastoreError:
            pass  # no boto3: the tasks will say so


def _make_client(quick: bool) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise DatastoreError(MISSING_EXTRA) from None
    url = endpoint()
    config = Config(
        max_pool_connections=64,
        retries={"max_attempts": 2 if quick else ATTEMPTS, "mode": "standard"},
        connect_timeout=3 if quick else 10,
        read_timeout=10 if quick else 120,
        # Servers other than AWS want path-style addresses and the plain checksums of old;
        # artifacts carry their own content hash anyway.
        s3={"addressing_style": "path"} if url else None,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session()  # sessions are not thread-safe: one per client
    return session.client("s3", endpoint_url=url, config=config)


def error_code(exc: BaseException) -> str:
    """The S3 error code of a botocore error (``NoSuchKey``, ``404``, ...), else ''."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def is_missing(exc: BaseException) -> bool:
    return error_code(exc) in ("NoSuchKey", "404", "NotFound")


def s3_error(exc: BaseException, action: str, bucket: str, key: str = "") -> DatastoreError:
    """One line for a failed S3 call: what was asked, where, and what S3 said."""
    target = f"s3://{bucket}/{key}" if key else f"bucket {bucket!r}"
    code = error_code(exc)
    name = type(exc).__name__
    if code in ("NoSuchBucket",) or (code in ("404", "NotFound") and not key):
        reason = (f"the bucket {bucket!r} does not exist there; create it, or fix the bucket in "
                  "the datastore root")
    elif code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "Forbidden"):
        reason = (f"access denied ({code}): check the AWS credentials (AWS_ACCESS_KEY_ID, "
                  "AWS_SECRET_ACCESS_KEY or AWS_PROFILE) and the bucket's permissions")
    elif name == "NoCredentialsError":
        reason = ("no AWS credentials were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                  "or AWS_PROFILE")
    elif name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError",
                  "ReadTimeoutError", "ProxyConnectionError"):
        reason = (f"the endpoint cannot be reached ({name}, after retries); check "
                  f"{ENDPOINT_ENV} and the network")
    elif code:
        message = getattr(exc, "response", {}).get("Error", {}).get("Message", "")
        reason = f"{code}" + (f": {message}" if message else "")
    else:
        reason = f"{name}: {exc}"
    return DatastoreError(f"S3 {action} of {target} at {where()} failed: {reason}.")


def check_bucket(bucket: str, prefix: str) -> None:
    """Fail fast, in one line, when the bucket cannot be used (before any task runs)."""
    c = client(quick=True)
    try:
        c.head_bucket(Bucket=bucket)
        c.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/" if prefix else "", MaxKeys=1)
    except Exception as exc:  # noqa: BLE001 - every S3 or network error becomes one line
        raise s3_error(exc, "access", bucket) from None
