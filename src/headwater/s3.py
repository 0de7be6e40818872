"""``S3``: your own data in S3, with the names of Metaflow's ``metaflow.S3``.

    from headwater import S3

    with S3(run=self) as s3:                      # in a step: keys live under this run
        s3.put("model.bin", data)
        obj = s3.get("model.bin")                 # obj.blob, obj.text, obj.path, obj.size
    with S3(s3root="s3://bucket/prefix") as s3:   # anywhere: keys live under that prefix
        s3.get_many(["a", "b"]); s3.list_paths(); s3.get_recursive(["logs"])
    with S3() as s3:                              # no root: full s3:// URLs only
        s3.get("s3://bucket/some/key")

Where a key goes::

    S3(run=self)                     <datastore root>/data/<FlowName>/<run id>/<key>
    S3(run=Run("Flow/12"))           the same place for a past run (from a notebook)
    S3(run=..., bucket=, prefix=)    s3://<bucket>/<prefix>/<FlowName>/<run id>/<key>
                                     (each replaces its part of <datastore root>/data)
    S3(s3root="s3://b/p")            s3://b/p/<key>
    S3()                             the key is a full s3:// URL

Objects move concurrently (the datastore's thread pool); a large one as a parallel multipart
upload straight from memory, or as parallel ranged GETs straight into memory. Downloaded bytes
stay in memory: a file on disk is written only when ``.path`` is asked for, in a temporary
folder that ``close()`` (the end of the ``with`` block) removes. The connection, credentials,
endpoint (``HEADWATER_S3_ENDPOINT_URL``) and bounded retries are the datastore's
(``datastore/s3client.py``); an S3 or network failure is one line naming the URL and endpoint.
"""

from __future__ import annotations

import os
import threading

from .exceptions import DatastoreError

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

FIRST_READ = 8 << 20  # a GET asks for this much first; the rest of a larger object is
#                       fetched by parallel ranged GETs
_DENIED = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403", "Forbidden")
_MISSING_HINT = ("to get a missing object as an S3Object with .exists == False instead, "
                 "pass return_missing=True")


# -- errors: Headwater errors, also under the names Metaflow code catches -----------------------


class S3Error(DatastoreError):
    """An S3 call failed (network, permissions, server), in one line."""

    headline = "S3 error"


class S3NotFound(S3Error):
    """The object (or the local file given to ``put_files``) does not exist."""

    headline = "S3 object not found"


class S3AccessDenied(S3Error):
    headline = "S3 access denied"


class S3URLError(S3Error, ValueError):
    """A key or URL that cannot be used: ``..``, outside the root, no root, not s3://."""

    headline = "Invalid S3 key or URL"


class S3InvalidObject(S3Error, TypeError):
    """A value to store that is neither bytes nor str (nor a binary file)."""

    headline = "Invalid object for S3"


MetaflowS3Exception = S3Error
MetaflowS3NotFound = S3NotFound
MetaflowS3AccessDenied = S3AccessDenied
MetaflowS3URLException = S3URLError
MetaflowS3InvalidObject = S3InvalidObject


def _s3client() -> Any:
    from .datastore import s3client

    return s3client


def _failure(exc: BaseException, action: str, bucket: str, name: str = "") -> S3Error:
    """Any failure of an S3 call as one line (an S3Error, or S3AccessDenied)."""
    if isinstance(exc, S3Error):
        return exc
    s3client = _s3client()
    if isinstance(exc, DatastoreError):  # already worded by the datastore (put_parts, S3Reader)
        cause = exc.__context__  # raised "from None": the botocore error is still here
        denied = cause is not None and s3client.error_code(cause) in _DENIED
        return (S3AccessDenied if denied else S3Error)(str(exc))
    message = str(s3client.s3_error(exc, action, bucket, name))
    return (S3AccessDenied if s3client.error_code(exc) in _DENIED else S3Error)(message)


def _not_found(bucket: str, name: str, action: str) -> S3NotFound:
    return S3NotFound(f"S3 {action} of s3://{bucket}/{name} at {_s3client().where()} failed: "
                      f"there is no such object; {_MISSING_HINT}.")


def _listish(values: Any, method: str) -> list:
    """``values`` as a list; a single string is a mistake worth a sentence."""
    if isinstance(values, (str, bytes)):
        raise TypeError(f"S3.{method}() takes a list of keys, not one string: "
                        f"{method}([{values!r}]).")
    try:
        return list(values)
    except TypeError:
        raise TypeError(f"S3.{method}() takes a list of keys, got {type(values).__name__}.") from None


# -- what comes back ----------------------------------------------------------------------------


class S3Object:
    """An object in S3 (or, from ``list_paths``, a prefix: ``.exists`` is False), with its bytes
    once downloaded.

    ``url`` is its full location; ``key`` is relative to the root of the ``S3`` that returned
    it, or, from ``list_paths``/``list_recursive``/``get_recursive``, to the prefix asked for
    (``prefix``). ``blob``/``text``/``path`` are None unless it was downloaded (``get*``).
    """

    __slots__ = ("_owner", "_url", "_key", "_prefix", "_size", "_data", "_content_type",
                 "_last_modified", "_metadata", "_path")

    def __init__(self, owner: S3, url: str, key: str, prefix: str | None, size: int | None = None,
                 data: Any = None, content_type: str | None = None,
                 last_modified: float | None = None, metadata: dict | None = None) -> None:
        self._owner = owner
        self._url, self._key, self._prefix = url, key, prefix
        self._size = size
        self._data = data  # bytes, or a bytearray filled in place (turned into bytes on demand)
        self._content_type = content_type
        self._last_modified = last_modified
        self._metadata = metadata
        self._path: str | None = None

    @property
    def exists(self) -> bool:
        """True for an object S3 holds; False for a missing key or a prefix (a "directory")."""
        return self._size is not None

    @property
    def downloaded(self) -> bool:
        """True when the bytes are here: ``blob``, ``text`` and ``path`` give them."""
        return self._data is not None

    @property
    def url(self) -> str:
        return self._url

    @property
    def key(self) -> str:
        return self._key

    @property
    def prefix(self) -> str | None:
        """The root or prefix ``key`` is relative to (None when the key is the full URL)."""
        return self._prefix

    @property
    def size(self) -> int | None:
        """Its size in bytes, or None when it does not exist."""
        return self._size

    @property
    def blob(self) -> bytes | None:
        """The bytes, or None when not downloaded."""
        if isinstance(self._data, bytearray):
            self._data = bytes(self._data)
        return self._data

    @property
    def text(self) -> str | None:
        """The bytes decoded as UTF-8 (bad bytes replaced), or None when not downloaded."""
        data = self.blob
        return None if data is None else data.decode("utf-8", "replace")

    @property
    def path(self) -> str | None:
        """A local file holding the bytes, written on first use and removed when the ``S3``
        closes; None when not downloaded."""
        if self._data is None:
            return None
        return self._owner._local_file(self)

    @property
    def has_info(self) -> bool:
        return self._content_type is not None or self._metadata is not None

    @property
    def content_type(self) -> str | None:
        return self._content_type

    @property
    def last_modified(self) -> float | None:
        """When it was last written, in seconds since the epoch."""
        return self._last_modified

    @property
    def metadata(self) -> dict | None:
        """The object's user metadata (``x-amz-meta-*`` headers), if any."""
        return self._metadata

    def __str__(self) -> str:
        if self._size is None:
            return f"<S3Object {self._url} ({'prefix' if self._url.endswith('/') else 'missing'})>"
        return f"<S3Object {self._url} ({self._size} bytes)>"

    __repr__ = __str__


class _Upload:
    """One object to store: the bytes (a buffer) or a local file to send."""

    __slots__ = ("key", "bucket", "name", "size", "data", "file")

    def __init__(self, key: str, bucket: str, name: str, size: int, data: Any = None,
                 file: str | None = None) -> None:
        self.key, self.bucket, self.name, self.size, self.data, self.file = (
            key, bucket, name, size, data, file)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.name}"


# -- the client ---------------------------------------------------------------------------------


class S3:
    """Put, get and list objects in S3, many at a time. Use it in a ``with`` block (or call
    ``close()``) so that the local files ``.path`` wrote are removed.

    ``run``: ``self`` in a step, or a client ``Run``: keys live under
    ``<the run's datastore root>/data/<FlowName>/<run id>/``; ``bucket``/``prefix`` replace the
    bucket and the path (``<root prefix>/data``) of that location. ``s3root``: keys live under
    this ``s3://bucket/prefix``. Neither: every key is a full ``s3://`` URL. ``tmproot``: where
    the folder of ``.path`` files is made (default: the system's temporary folder).
    """

    def __init__(self, tmproot: str | None = None, bucket: str | None = None,
                 prefix: str | None = None, run: Any = None, s3root: str | None = None,
                 **unsupported: Any) -> None:
        if unsupported:
            names = ", ".join(sorted(unsupported))
            raise TypeError(f"S3() does not support {names}; it takes tmproot, bucket, prefix, run "
                            "and s3root (credentials and the endpoint come from the environment).")
        if run is not None:
            root: str | None = _run_root(run, bucket, prefix)
        elif bucket is not None or prefix is not None:
            raise S3URLError("S3(bucket=..., prefix=...) go with run=; for any other location "
                             "give S3(s3root='s3://bucket/prefix').")
        else:
            root = s3root or None
        self._bucket: str | None = None
        self._prefix = ""
        if root is not None:
            if not isinstance(root, str) or not root.startswith("s3://"):
                raise S3URLError(f"s3root={root!r} is not an S3 URL; write it as s3://bucket/prefix.")
            try:
                self._bucket, self._prefix = _s3client().parse_url(root)
            except DatastoreError as exc:
                raise S3URLError(str(exc)) from None
            _check_parts(self._prefix, root)
        self._tmproot = tmproot
        self._tmpdir: str | None = None
        self._finalizer: Any = None
        self._closed = False
        self._lock = threading.Lock()

    # -- the root, keys and URLs ------------------------------------------------------------------
    @property
    def s3root(self) -> str | None:
        """``s3://bucket/prefix`` every key is relative to, or None (full URLs only)."""
        if self._bucket is None:
            return None
        return f"s3://{self._bucket}/{self._prefix}" if self._prefix else f"s3://{self._bucket}"

    def __repr__(self) -> str:
        return f"S3(s3root={self.s3root!r})"

    def _locate(self, key: str | None) -> tuple[str, str, str]:
        """``(bucket, object name, key relative to the root)`` of a key or URL (None: the root)."""
        if key is None:
            if self._bucket is None:
                raise S3URLError(self._no_root("no key"))
            return self._bucket, self._prefix, ""
        if not isinstance(key, str):
            raise TypeError(f"an S3 key is a string (a key under the root or an s3:// URL), "
                            f"not {type(key).__name__}: {key!r}.")
        if key.startswith("s3://"):
            try:
                bucket, name = _s3client().parse_url(key)
            except DatastoreError as exc:
                raise S3URLError(str(exc)) from None
            _check_parts(name, key)
            if self._bucket is None:
                return bucket, name, key
            inside = bucket == self._bucket and (
                not self._prefix or name == self._prefix or name.startswith(self._prefix + "/"))
            if not inside:
                raise S3URLError(f"{key} is outside the root of this S3, {self.s3root}; give a key "
                                 "relative to the root, or use S3() without a root for URLs "
                                 "anywhere.")
            rel = name[len(self._prefix):].lstrip("/") if self._prefix else name
            return bucket, name, rel
        if self._bucket is None:
            raise S3URLError(self._no_root(f"the key {key!r} is not an s3:// URL"))
        rel = key.lstrip("/")
        _check_parts(rel, key)
        if not rel:
            return self._bucket, self._prefix, ""
        return self._bucket, f"{self._prefix}/{rel}" if self._prefix else rel, rel

    def _no_root(self, what: str) -> str:
        return (f"{what}, and this S3 has no root to put keys under: in a step use "
                "S3(run=self), elsewhere S3(s3root='s3://bucket/prefix'), or give full s3:// URLs.")

    def _locate_object(self, key: str) -> tuple[str, str, str]:
        """Like ``_locate``, for a key that must name one object (what ``put`` writes)."""
        if key is None:
            raise S3URLError("put needs a key: the name of the object to write.")
        bucket, name, rel = self._locate(key)
        if not name or name.endswith("/") or (self._bucket is not None and not rel):
            raise S3URLError(f"the key {key!r} names a folder, not an object; give the object's "
                             "name, e.g. 'folder/file.bin'.")
        return bucket, name, rel

    # -- reading ----------------------------------------------------------------------------------
    def get(self, key: str | None = None, return_missing: bool = False,
            return_info: bool = True) -> S3Object:
        """Download one object (``key`` None: the root itself). A missing key raises
        ``S3NotFound``, or with ``return_missing=True`` gives an object with ``.exists == False``."""
        return self.get_many([key], return_missing=return_missing)[0]

    def get_many(self, keys: Iterable[str], return_missing: bool = False,
                 return_info: bool = True) -> list[S3Object]:
        """Download many objects concurrently, in the order of ``keys``."""
        wanted = [(*self._locate(key), self.s3root) for key in _listish(keys, "get_many")]
        return self._download(wanted, return_missing)

    def get_recursive(self, keys: Iterable[str], return_info: bool = False) -> list[S3Object]:
        """Download every object under each prefix; keys relative to the prefix asked for."""
        found = self._list_many(_listish(keys, "get_recursive"), recursive=True)
        return self._download([(*_split_url(o.url), o.key, o.prefix) for o in found],
                              return_missing=False)

    def get_all(self, return_info: bool = False) -> list[S3Object]:
        """Download every object under the root."""
        if self._bucket is None:
            raise S3URLError("get_all() needs a root: S3(run=self) or S3(s3root='s3://bucket/prefix').")
        return self.get_recursive([None])  # type: ignore[list-item]

    def info(self, key: str | None = None, return_missing: bool = False) -> S3Object:
        """Size, content type, last modified and metadata of one object, without its bytes."""
        return self.info_many([key], return_missing=return_missing)[0]

    def info_many(self, keys: Iterable[str], return_missing: bool = False) -> list[S3Object]:
        """``info`` of many objects, concurrently."""
        wanted = [self._locate(key) for key in _listish(keys, "info_many")]
        heads = _parallel(lambda loc: _head(loc[0], loc[1]), wanted)
        out = []
        for (bucket, name, rel), answer in zip(wanted, heads, strict=True):
            url = f"s3://{bucket}/{name}"
            if answer is None:
                if not return_missing:
                    raise _not_found(bucket, name, "look-up")
                out.append(S3Object(self, url, rel, self.s3root))
                continue
            out.append(S3Object(self, url, rel, self.s3root, size=int(answer["ContentLength"]),
                                **_info_of(answer)))
        return out

    def list_paths(self, keys: Iterable[str] | None = None) -> list[S3Object]:
        """One level under each prefix (default: the root), like ``ls``: objects, and prefixes
        ("directories", ``.exists == False``); keys relative to the prefix asked for."""
        return self._list_many([None] if keys is None else _listish(keys, "list_paths"),
                               recursive=False)

    def list_recursive(self, keys: Iterable[str] | None = None) -> list[S3Object]:
        """Every object under each prefix (default: the root), at any depth."""
        return self._list_many([None] if keys is None else _listish(keys, "list_recursive"),
                               recursive=True)

    # -- writing ----------------------------------------------------------------------------------
    def put(self, key: str, obj: Any, overwrite: bool = True) -> str:
        """Store ``obj`` (bytes, str as UTF-8, or a binary file) at ``key``; returns its URL.
        With ``overwrite=False`` an existing object is left as it is."""
        bucket, name, _ = self._locate_object(key)
        data = _as_buffer(obj, key)
        self._upload([_Upload(key, bucket, name, data.nbytes, data=data)], overwrite)
        return f"s3://{bucket}/{name}"

    def put_many(self, key_objs: Iterable[tuple[str, Any]], overwrite: bool = True
                 ) -> list[tuple[str, str]]:
        """Store many ``(key, obj)`` concurrently; returns ``(key, url)`` of those stored (all,
        unless ``overwrite=False`` left some existing ones alone). Nothing is sent when any
        key or object is invalid."""
        uploads = []
        for pair in _listish(key_objs, "put_many"):
            key, obj = _pair(pair, "put_many", "(key, obj)")
            bucket, name, _ = self._locate_object(key)
            data = _as_buffer(obj, key)
            uploads.append(_Upload(key, bucket, name, data.nbytes, data=data))
        return self._upload(uploads, overwrite)

    def put_files(self, key_paths: Iterable[tuple[str, str]], overwrite: bool = True
                  ) -> list[tuple[str, str]]:
        """Store local files, ``(key, path)`` each, concurrently; returns ``(key, url)`` of
        those stored. A large file is sent in parallel parts from a memory map (no copy)."""
        uploads = []
        for pair in _listish(key_paths, "put_files"):
            key, path = _pair(pair, "put_files", "(key, local path)")
            bucket, name, _ = self._locate_object(key)
            path = os.fspath(path)
            if not os.path.isfile(path):
                raise S3NotFound(f"put_files: the local file {path!r} (for the key {key!r}) "
                                 "does not exist or is not a file.")
            uploads.append(_Upload(key, bucket, name, os.path.getsize(path), file=path))
        return self._upload(uploads, overwrite)

    # -- local files ------------------------------------------------------------------------------
    def close(self) -> None:
        """Remove the local files ``.path`` wrote. Downloaded ``.blob`` bytes stay usable."""
        with self._lock:
            self._closed = True
            if self._finalizer is not None:
                self._finalizer()  # removes the folder, once
                self._finalizer = None
            self._tmpdir = None

    def __enter__(self) -> S3:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _local_file(self, obj: S3Object) -> str:
        with self._lock:
            if self._closed:
                raise S3Error(f"{obj.url}: .path files exist only until the S3 closes (the end of "
                              "its with block); use .blob, or ask for .path inside the block.")
            if obj._path is not None:
                return obj._path
            import tempfile

            if self._tmpdir is None:
                import shutil
                import weakref

                self._tmpdir = tempfile.mkdtemp(prefix="headwater.s3.", dir=self._tmproot)
                # Also removed if the S3 is dropped without close(), or at interpreter exit.
                self._finalizer = weakref.finalize(self, shutil.rmtree, self._tmpdir, True)
            base = obj.key.rstrip("/").rsplit("/", 1)[-1]
            suffix = os.path.splitext(base)[1]
            fd, path = tempfile.mkstemp(dir=self._tmpdir, suffix=suffix if len(suffix) < 16 else "")
            with os.fdopen(fd, "wb") as f:
                f.write(obj._data)
            obj._path = path
            return path

    # -- the work ---------------------------------------------------------------------------------
    def _download(self, wanted: list[tuple[str, str, str, str | None]],
                  return_missing: bool) -> list[S3Object]:
        # The first GET of every object runs on the pool (small objects end there); the rest of
        # each large object is fetched from this thread, by parallel ranged GETs on the same
        # pool (a pool task must never wait for other pool tasks).
        firsts = _parallel(lambda w: _first_get(w[0], w[1]), wanted)
        for (bucket, name, _, _), first in zip(wanted, firsts, strict=True):
            if first is None and not return_missing:
                raise _not_found(bucket, name, "read")
        out = []
        for (bucket, name, rel, prefix), first in zip(wanted, firsts, strict=True):
            url = f"s3://{bucket}/{name}"
            if first is None:
                out.append(S3Object(self, url, rel, prefix))
                continue
            total, data, answer = first
            if len(data) < total:
                data = _read_rest(bucket, name, total, data, answer.get("ETag"))
            out.append(S3Object(self, url, rel, prefix, size=total, data=data, **_info_of(answer)))
        return out

    def _list_many(self, keys: list, recursive: bool) -> list[S3Object]:
        wanted = [self._locate(key) for key in keys]
        listed = _parallel(lambda loc: self._list(loc[0], loc[1], recursive), wanted)
        return [obj for found in listed for obj in found]

    def _list(self, bucket: str, name: str, recursive: bool) -> list[S3Object]:
        base = f"{name.rstrip('/')}/" if name else ""
        prefix = f"s3://{bucket}/{base}"
        args = {"Bucket": bucket, "Prefix": base}
        if not recursive:
            args["Delimiter"] = "/"
        found = []
        try:
            for page in _s3client().client().get_paginator("list_objects_v2").paginate(**args):
                for sub in page.get("CommonPrefixes") or ():
                    rel = sub["Prefix"][len(base):].rstrip("/")
                    if rel:
                        found.append(S3Object(self, f"s3://{bucket}/{sub['Prefix']}", rel, prefix))
                for item in page.get("Contents") or ():
                    rel = item["Key"][len(base):]
                    if rel:  # not the folder marker some tools write at the prefix itself
                        modified = item.get("LastModified")
                        found.append(S3Object(
                            self, f"s3://{bucket}/{item['Key']}", rel, prefix, size=int(item["Size"]),
                            last_modified=modified.timestamp() if modified is not None else None))
        except Exception as exc:  # noqa: BLE001 - every S3 or network error becomes one line
            raise _failure(exc, "listing", bucket, base) from None
        found.sort(key=lambda o: o.key)
        return found

    def _upload(self, uploads: list[_Upload], overwrite: bool) -> list[tuple[str, str]]:
        from .datastore.s3 import SINGLE_PUT

        # Small objects are single PUTs, many at a time on the pool; a large one is a multipart
        # upload whose parts already use the pool, so large ones go one after another from
        # this thread (a pool task must never wait for other pool tasks).
        small = [u for u in uploads if u.size <= SINGLE_PUT]
        done = _parallel(lambda u: _send(u, overwrite), small)
        sent = dict(zip(map(id, small), done, strict=True))
        for u in uploads:
            if u.size > SINGLE_PUT:
                sent[id(u)] = _send(u, overwrite)
        return [(u.key, u.url) for u in uploads if sent[id(u)]]


def _split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/name`` -> ``(bucket, name)``, the name as it is (a listed object's URL)."""
    bucket, _, name = url[5:].partition("/")
    return bucket, name


def _check_parts(name: str, given: str) -> None:
    if any(part in (".", "..") for part in name.split("/")):
        raise S3URLError(f"the S3 key {given!r} contains '.' or '..': keys are names, not paths "
                         "that can climb out of the root; write it without them.")


def _pair(item: Any, method: str, shape: str) -> tuple[Any, Any]:
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise TypeError(f"S3.{method}() takes a list of {shape} pairs; got {item!r}.")
    return item[0], item[1]


def _as_buffer(obj: Any, key: str) -> memoryview:
    """The bytes to store for ``obj``, without copying a bytes-like object."""
    if isinstance(obj, str):
        return memoryview(obj.encode("utf-8"))
    if isinstance(obj, (bytes, bytearray, memoryview)):
        try:
            return memoryview(obj).cast("B")
        except TypeError:  # a non-contiguous memoryview
            return memoryview(bytes(obj))
    if hasattr(obj, "read"):  # a binary file object: sent from its beginning, as Metaflow does
        if getattr(obj, "seekable", lambda: False)():
            obj.seek(0)
        data = obj.read()
        if isinstance(data, (bytes, bytearray)):
            return memoryview(data)
        raise S3InvalidObject(f"the file given for the key {key!r} reads {type(data).__name__}, not "
                              "bytes; open it in binary mode ('rb').")
    raise S3InvalidObject(f"the object for the key {key!r} is a {type(obj).__name__}; S3.put "
                          "stores bytes, str (as UTF-8) or a binary file: serialize it first "
                          "(pickle.dumps, json.dumps, ...), or keep it as an artifact (self.x = ...).")


def _parallel(func: Callable[[Any], Any], items: list) -> list:
    """``[func(i) for i in items]`` on the datastore's thread pool; the first error is raised."""
    if len(items) <= 1:
        return [func(item) for item in items]
    from .datastore.s3 import pool

    futures = [pool().submit(func, item) for item in items]
    try:
        return [f.result() for f in futures]
    finally:
        for f in futures:
            f.cancel()


def _info_of(answer: dict) -> dict:
    modified = answer.get("LastModified")
    return {"content_type": answer.get("ContentType"),
            "last_modified": modified.timestamp() if modified is not None else None,
            "metadata": answer.get("Metadata") or None}


def _head(bucket: str, name: str) -> dict | None:
    s3client = _s3client()
    try:
        return s3client.client().head_object(Bucket=bucket, Key=name)
    except Exception as exc:  # noqa: BLE001
        if s3client.is_missing(exc):
            return None
        raise _failure(exc, "look-up", bucket, name) from None


def _first_get(bucket: str, name: str) -> tuple[int, bytes, dict] | None:
    """The object's total size, its first ``FIRST_READ`` bytes and the GET's answer; None when
    there is no such object."""
    s3client = _s3client()
    c = s3client.client()
    try:
        try:
            answer = c.get_object(Bucket=bucket, Key=name, Range=f"bytes=0-{FIRST_READ - 1}")
        except Exception as exc:  # noqa: BLE001
            if s3client.error_code(exc) != "InvalidRange":
                raise
            answer = c.get_object(Bucket=bucket, Key=name)  # an empty object has no byte 0
        data = answer["Body"].read()
    except Exception as exc:  # noqa: BLE001
        if s3client.is_missing(exc):
            return None
        raise _failure(exc, "read", bucket, name) from None
    span = answer.get("ContentRange") or ""  # "bytes 0-8388607/123456789"
    total = int(span.rsplit("/", 1)[1]) if "/" in span else len(data)
    return total, data, answer


def _read_rest(bucket: str, name: str, total: int, first: bytes, etag: str | None) -> bytearray:
    """The whole object, its bytes after ``first`` filled by parallel ranged GETs."""
    from .datastore.s3 import S3Reader

    buf = bytearray(total)
    view = memoryview(buf)
    view[:len(first)] = first
    reader = S3Reader(bucket, name, total, missing=lambda: _changed(bucket, name))
    reader.seek(len(first))
    pos = len(first)
    try:
        while pos < total:
            got = reader.readinto(view[pos:])
            if not got:
                raise _changed(bucket, name)
            pos += got
    except DatastoreError as exc:
        raise _failure(exc, "read", bucket, name) from None
    finally:
        view.release()
    # The ranged GETs read whatever is there now: make sure it is still the object whose first
    # bytes were read (not one written meanwhile).
    answer = _head(bucket, name)
    if answer is None or int(answer["ContentLength"]) != total or (
            etag is not None and answer.get("ETag") != etag):
        raise _changed(bucket, name)
    return buf


def _changed(bucket: str, name: str) -> S3Error:
    return S3Error(f"S3 read of s3://{bucket}/{name} at {_s3client().where()} failed: the object "
                   "was replaced or deleted while it was being read; read it again.")


def _send(up: _Upload, overwrite: bool) -> bool:
    """Store one object; False when ``overwrite`` is off and it exists already."""
    from .datastore.s3 import head, put_parts

    try:
        if not overwrite and head(up.bucket, up.name) is not None:
            return False
        if up.file is None:
            _put_bytes(up.bucket, up.name, up.data, put_parts)
        else:
            _send_file(up, put_parts)
        return True
    except S3Error:
        raise
    except Exception as exc:  # noqa: BLE001 - every S3 or network error becomes one line
        raise _failure(exc, "write", up.bucket, up.name) from None


def _put_bytes(bucket: str, name: str, data: memoryview, put_parts: Callable[..., None]) -> None:
    if data.nbytes:
        put_parts(bucket, name, [data])
    else:
        # An empty object is sent with no body at all: with an empty body botocore asks for
        # "Expect: 100-continue", which some servers (SeaweedFS) answer in a way that stalls the
        # next request on the same connection until it times out.
        _s3client().client().put_object(Bucket=bucket, Key=name)


def _send_file(up: _Upload, put_parts: Callable[..., None]) -> None:
    """A small file is read and sent in one PUT; a large one is sent in parts from a memory
    map. The size checked before the upload decides, so a small file's upload (on the pool)
    never becomes a multipart upload (which would wait for the pool)."""
    from .datastore.s3 import SINGLE_PUT

    try:
        f = open(up.file, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise S3NotFound(f"put_files: cannot read the local file {up.file!r}: {exc}.") from None
    with f:
        if up.size <= SINGLE_PUT:
            data = f.read(SINGLE_PUT + 1)
            if len(data) > SINGLE_PUT:
                raise S3Error(f"put_files: the local file {up.file!r} grew while it was being "
                              "uploaded; upload it again once it is complete.")
            _put_bytes(up.bucket, up.name, memoryview(data), put_parts)
            return
        import mmap

        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            put_parts(up.bucket, up.name, [memoryview(mapped)])
        finally:
            try:
                mapped.close()
            except BufferError:  # a part's view is still alive: unmapped when collected
                pass


def _run_root(run: Any, bucket: str | None, prefix: str | None) -> str:
    """``s3://<bucket>/<prefix>/<FlowName>/<run id>`` for ``S3(run=...)``."""
    from .current import current
    from .flowspec import FlowSpec

    if isinstance(run, FlowSpec):
        if not current.is_running_flow:
            raise S3URLError("S3(run=self) works inside a running step; outside a run give a "
                             "client Run, S3(run=Run('Flow/12')), or S3(s3root='s3://bucket/prefix').")
        flow, run_id = current.flow_name, str(current.run_id)
        try:
            root = current._datastore_root
        except AttributeError:
            root = ""
    elif hasattr(run, "_stores") and hasattr(run, "_flow") and hasattr(run, "_run"):
        flow, run_id = run._flow, str(run._run)
        root = run._stores.datastore_for(flow, run._run).url
    else:
        raise TypeError(f"S3(run=...) takes self (in a step) or a client Run, not "
                        f"{type(run).__name__}.")
    root = str(root or "")
    if root.startswith("s3://"):
        root_bucket, root_prefix = _s3client().parse_url(root)
        base = f"{root_prefix}/data" if root_prefix else "data"
    elif bucket is not None:
        root_bucket, base = bucket, "data"
    else:
        raise S3Error(f"S3(run=...) keeps data next to the run's artifacts, but run {flow}/{run_id} "
                      f"stores them in {root or 'a local folder'}, not in S3: run the flow with "
                      "--datastore s3 (and HEADWATER_DATASTORE_SYSROOT_S3 or --datastore-root "
                      "s3://bucket/prefix), or give S3(s3root='s3://bucket/prefix').")
    if prefix is not None:
        base = prefix.strip("/")
    parts = [p for p in (base, flow, run_id) if p]
    return f"s3://{bucket or root_bucket}/{'/'.join(parts)}"
