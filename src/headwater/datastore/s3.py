"""The datastore on S3: blobs, logs and cards as objects under ``s3://bucket/prefix``.

    <prefix>/blobs/<key[:2]>/<key[2:]>                          content-addressed, immutable
    <prefix>/logs/<flow>/<run>/<step>/<task>/<attempt>.<stream>  rewritten while the task runs
    <prefix>/cards/<flow>/<run>/<step>/<task>/<attempt>/...      as locally

The same layout and guarantees as a local folder. A blob becomes visible only whole: one PUT,
or a multipart upload that S3 publishes at ``complete``. A value already stored (same key) is
not sent again. Large blobs move as parallel parts straight from and to memory: the writer
keeps references to the serialized buffers and slices them into parts; the reader fills the
destination buffers with parallel ranged GETs, hashing each part in order as it arrives, so
every load checks the bytes against their key. A copy already stored is trusted only when
whole: a small one is read back and compared; a large one must have the right size and no
``<prefix>/damaged/<key>`` note, which a load that found it damaged leaves (a same-size bad
re-upload passes the size check); otherwise the write replaces it.

S3 has no append: a log is kept in memory and its object rewritten by a background thread as
it grows (its first lines at once, then at most once every ``LOG_UPLOAD_EVERY`` seconds), and
once more when it closes. So a reader follows a running task, and a scheduler killed without
warning loses at most the last second of its tasks' output.
"""

from __future__ import annotations

import io
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ..exceptions import DatastoreError
from . import s3client
from .cards import INDEX, CardFolder, CardInfo
from .datastore import Datastore
from .logs import parse_lines
from .storage import BlobWriter, Storage, check_key

TYPE_CHECKING = False  # typing is not imported at run time (start-up cost)
if TYPE_CHECKING:
    from typing import IO, Any

    from .blobs import BlobStore

PART = 16 << 20  # multipart part size; S3 wants at least 5 MiB but the last
SINGLE_PUT = 16 << 20  # up to this size a blob is one PUT
KEEP_MIN = 1 << 20  # writes this large are kept by reference (not copied) until commit
PARALLEL_MIN = 8 << 20  # reads this large are split into parallel ranged GETs
READ_AHEAD = 4 << 20  # small reads are served from a buffer this large
TINY = 64 << 10  # blobs up to this size are PUT without asking whether they exist
WORKERS = int(os.environ.get("HEADWATER_S3_WORKERS", "16"))
LOG_UPLOAD_EVERY = 1.0  # at most one upload of a growing log per second

_pools: dict[tuple[int, str], ThreadPoolExecutor] = {}


def pool(kind: str = "parts") -> ThreadPoolExecutor:
    """Threads for the parts of large transfers (``parts``), or for whole objects sent side
    by side (``objects``): two pools, so an object waiting for its parts never holds the
    threads its parts need. One of each per process."""
    key = (os.getpid(), kind)
    found = _pools.get(key)
    if found is None:
        found = _pools[key] = ThreadPoolExecutor(WORKERS, thread_name_prefix=f"headwater-s3-{kind}")
    return found


class S3Storage(Storage):
    """Blobs as objects under ``<prefix>/blobs/``."""

    concurrent = True

    def __init__(self, bucket: str, prefix: str) -> None:
        self.bucket = bucket
        self.prefix = prefix

    def object_key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/blobs/{key[:2]}/{key[2:]}" if self.prefix else f"blobs/{key[:2]}/{key[2:]}"

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.object_key(key)}"

    def new_blob(self) -> BlobWriter:
        return S3BlobWriter(self)

    def open(self, key: str) -> IO[bytes]:
        return S3Reader(self.bucket, self.object_key(key), self.size(key),  # type: ignore[return-value]
                        missing=lambda: self.missing(key))

    def read_bytes(self, key: str) -> bytes:
        name = self.object_key(key)
        try:
            return s3client.client().get_object(Bucket=self.bucket, Key=name)["Body"].read()
        except Exception as exc:  # noqa: BLE001
            if s3client.is_missing(exc):
                raise self.missing(key) from None
            raise s3client.s3_error(exc, "read", self.bucket, name) from None

    def exists(self, key: str) -> bool:
        return head(self.bucket, self.object_key(key)) is not None

    def size(self, key: str) -> int:
        found = head(self.bucket, self.object_key(key))
        if found is None:
            raise self.missing(key)
        return found

    def write_bytes(self, key: str, data: Any) -> None:
        put_parts(self.bucket, self.object_key(key), [memoryview(data).cast("B")])

    def store_small(self, key: str, data: bytes) -> None:
        # Up to TINY, a look-up costs a round trip as a PUT does: put it, which also replaces a
        # damaged copy. Above, the stored copy is read back (one GET, as a look-up would be)
        # and kept only when it holds exactly these bytes.
        if len(data) > TINY and get_or_none(self.bucket, self.object_key(key)) == data:
            return
        self.write_bytes(key, data)

    def damaged_key(self, key: str) -> str:
        """The note that the blob under ``key`` was found damaged (see ``damaged``)."""
        check_key(key)
        return f"{self.prefix}/damaged/{key}" if self.prefix else f"damaged/{key}"

    def damaged(self, key: str) -> None:
        # A large object is kept by a later write when its size matches, which a same-size
        # damage (a bad re-upload) would pass: this note tells that write to replace it.
        try:
            # Not empty: an empty PUT upsets some servers' keep-alive connections (SeaweedFS).
            s3client.client().put_object(Bucket=self.bucket, Key=self.damaged_key(key),
                                         Body=b"found damaged on load; the next write replaces it\n")
        except Exception:  # noqa: BLE001 - best effort: a reader may not be allowed to write
            pass

    def pool(self) -> ThreadPoolExecutor:
        return pool("objects")


def get_or_none(bucket: str, name: str) -> bytes | None:
    """The object's bytes, or None when there is none."""
    try:
        return s3client.client().get_object(Bucket=bucket, Key=name)["Body"].read()
    except Exception as exc:  # noqa: BLE001
        if s3client.is_missing(exc):
            return None
        raise s3client.s3_error(exc, "read", bucket, name) from None


def head(bucket: str, name: str) -> int | None:
    """The object's size, or None when there is none."""
    try:
        return int(s3client.client().head_object(Bucket=bucket, Key=name)["ContentLength"])
    except Exception as exc:  # noqa: BLE001
        if s3client.is_missing(exc):
            return None
        raise s3client.s3_error(exc, "look-up", bucket, name) from None


def put_parts(bucket: str, name: str, chunks: list[memoryview]) -> None:
    """Store the concatenation of ``chunks`` as one object, visible only when complete."""
    total = sum(c.nbytes for c in chunks)
    c = s3client.client()
    try:
        if total == 0:
            # No body at all: an empty one makes some servers (SeaweedFS) answer botocore's
            # "Expect: 100-continue" in a way that stalls the connection's next request.
            c.put_object(Bucket=bucket, Key=name)
            return
        if total <= SINGLE_PUT:
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            c.put_object(Bucket=bucket, Key=name, Body=bytes(body) if isinstance(body, memoryview) else body)
            return
        upload = c.create_multipart_upload(Bucket=bucket, Key=name)["UploadId"]
    except Exception as exc:  # noqa: BLE001
        raise s3client.s3_error(exc, "write", bucket, name) from None
    try:
        parts = list(_split(chunks, PART))

        def send(number: int, part: Any) -> dict:
            answer = c.upload_part(Bucket=bucket, Key=name, UploadId=upload, PartNumber=number,
                                   Body=_Body(part))
            return {"ETag": answer["ETag"], "PartNumber": number}

        done = list(pool().map(send, range(1, len(parts) + 1), parts))
        c.complete_multipart_upload(Bucket=bucket, Key=name, UploadId=upload,
                                    MultipartUpload={"Parts": done})
    except BaseException as exc:
        try:
            c.abort_multipart_upload(Bucket=bucket, Key=name, UploadId=upload)
        except Exception:  # noqa: BLE001 - the first error is the one to report
            pass
        if isinstance(exc, Exception):
            raise s3client.s3_error(exc, "write", bucket, name) from None
        raise


def _split(chunks: list[memoryview], size: int) -> Any:
    """Parts of ``size`` bytes (the last shorter) over the chunks: a slice of one chunk when a
    part lies inside it (no copy), else the joined pieces."""
    pending: list[memoryview] = []
    filled = 0
    for chunk in chunks:
        pos = 0
        while pos < chunk.nbytes:
            take = min(size - filled, chunk.nbytes - pos)
            pending.append(chunk[pos:pos + take])
            filled += take
            pos += take
            if filled == size:
                yield pending[0] if len(pending) == 1 else b"".join(pending)
                pending, filled = [], 0
    if pending:
        yield pending[0] if len(pending) == 1 else b"".join(pending)


class _Body(io.RawIOBase):
    """A read-only file over a buffer, so a part is sent without another copy of it."""

    def __init__(self, data: Any) -> None:
        self._view = memoryview(data).cast("B")
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self._pos, self._view.nbytes)[whence]
        self._pos = max(0, min(base + offset, self._view.nbytes))
        return self._pos

    def readinto(self, b: Any) -> int:
        n = min(len(b), self._view.nbytes - self._pos)
        b[:n] = self._view[self._pos:self._pos + n]
        self._pos += n
        return n

    def read(self, n: int = -1) -> bytes:
        end = self._view.nbytes if n is None or n < 0 else min(self._view.nbytes, self._pos + n)
        data = self._view[self._pos:end].tobytes()
        self._pos = end
        return data

    def __len__(self) -> int:
        return self._view.nbytes


class S3BlobWriter(BlobWriter):
    """Collects a blob's bytes (large buffers by reference) and uploads them at ``commit``,
    when the key is known. The caller must not change a buffer it wrote before committing."""

    def __init__(self, storage: S3Storage) -> None:
        self._storage = storage
        self._chunks: list[memoryview] = []
        self._small = bytearray()
        self._done = False

    def write(self, data: Any) -> int:
        if self._done:
            raise DatastoreError("Cannot write to a blob that was committed or aborted.")
        view = memoryview(data).cast("B")
        if view.nbytes >= KEEP_MIN:
            if self._small:
                self._chunks.append(memoryview(bytes(self._small)))
                self._small = bytearray()
            self._chunks.append(view)
        else:
            self._small += view
        return view.nbytes

    def commit(self, key: str) -> None:
        if self._done:
            raise DatastoreError("Cannot commit a blob that was committed or aborted.")
        self._done = True
        chunks = self._chunks + ([memoryview(bytes(self._small))] if self._small else [])
        self._chunks, self._small = [], bytearray()
        total = sum(c.nbytes for c in chunks)
        storage, bucket = self._storage, self._storage.bucket
        name = storage.object_key(key)
        found = head(bucket, name)
        note = storage.damaged_key(key)
        if found == total and head(bucket, note) is None:
            self.committed = True
            return  # the same bytes are stored already (same key, same size, not found damaged)
        put_parts(bucket, name, chunks or [memoryview(b"")])  # replaces a damaged copy
        if found is not None:
            try:
                s3client.client().delete_object(Bucket=bucket, Key=note)
            except Exception:  # noqa: BLE001 - a note left behind costs one more upload, later
                pass
        self.committed = True

    def abort(self) -> None:
        self._done = True
        self._chunks, self._small = [], bytearray()


class S3Reader(io.RawIOBase):
    """A seekable reader of one object: small reads come from a read-ahead buffer, large
    ``readinto`` calls are filled by parallel ranged GETs straight into the caller's buffer."""

    def __init__(self, bucket: str, name: str, size: int, missing: Any = None) -> None:
        self.bucket, self.name, self.size = bucket, name, size
        self._pos = 0
        self._buf = b""
        self._buf_at = 0
        self._missing = missing

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self._pos, self.size)[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, b: Any) -> int:
        view = memoryview(b).cast("B")
        n = min(view.nbytes, self.size - self._pos)
        if n <= 0:
            return 0
        ahead = self._pos - self._buf_at
        if 0 <= ahead < len(self._buf):  # served from the read-ahead buffer
            take = min(n, len(self._buf) - ahead)
            view[:take] = self._buf[ahead:ahead + take]
            self._pos += take
            return take
        if n >= PARALLEL_MIN:
            self._fetch_parallel(view[:n], self._pos)
            self._pos += n
            return n
        self._buf_at = self._pos
        self._buf = self._fetch(self._pos, min(self.size, self._pos + max(n, READ_AHEAD)))
        take = min(n, len(self._buf))
        view[:take] = self._buf[:take]
        self._pos += take
        return take

    def readinto_hashed(self, b: Any, consume: Any) -> int:
        """``readinto`` that hands what it wrote to ``consume`` in order: a large read's parts
        are fetched side by side and each is hashed as soon as it and those before it have
        arrived, while the later ones are still on the way (``blobs._HashingReader``)."""
        view = memoryview(b).cast("B")
        n = min(view.nbytes, self.size - self._pos)
        if n >= PARALLEL_MIN and not 0 <= self._pos - self._buf_at < len(self._buf):
            self._fetch_parallel(view[:n], self._pos, consume)
            self._pos += n
            return n
        got = self.readinto(view)
        consume(view[:got])
        return got

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self.size - self._pos
        out = bytearray(max(0, min(n, self.size - self._pos)))
        got = 0
        while got < len(out):
            step = self.readinto(memoryview(out)[got:])
            if not step:
                break
            got += step
        return bytes(out[:got])

    def _fetch(self, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the object."""
        try:
            body = s3client.client().get_object(Bucket=self.bucket, Key=self.name,
                                                Range=f"bytes={start}-{end - 1}")["Body"]
            return body.read()
        except Exception as exc:  # noqa: BLE001
            if s3client.is_missing(exc) and self._missing is not None:
                raise self._missing() from None
            raise s3client.s3_error(exc, "read", self.bucket, self.name) from None

    def _fetch_into(self, view: memoryview, start: int) -> None:
        try:
            body = s3client.client().get_object(
                Bucket=self.bucket, Key=self.name, Range=f"bytes={start}-{start + view.nbytes - 1}")["Body"]
            pos = 0
            while pos < view.nbytes:
                got = body.readinto(view[pos:])
                if not got:
                    break  # a short object: the blob format reports it as truncated
                pos += got
        except Exception as exc:  # noqa: BLE001
            if s3client.is_missing(exc) and self._missing is not None:
                raise self._missing() from None
            raise s3client.s3_error(exc, "read", self.bucket, self.name) from None

    def _fetch_parallel(self, view: memoryview, start: int, consume: Any = None) -> None:
        pieces = [(view[pos:pos + PART], start + pos) for pos in range(0, view.nbytes, PART)]
        futures = [pool().submit(self._fetch_into, piece, at) for piece, at in pieces]
        try:
            for (piece, _), future in zip(pieces, futures, strict=True):
                future.result()
                if consume is not None:
                    consume(piece)
        except BaseException:
            for future in futures:
                future.cancel()
            raise


# -- logs ---------------------------------------------------------------------------------------


class S3LogWriter:
    """A log kept in memory and written whole to its object: soon after it grows (by the
    datastore's uploader thread) and when it closes."""

    def __init__(self, ds: S3Datastore, name: str) -> None:
        self.ds = ds
        self.name = name
        self.path = f"s3://{ds.bucket}/{name}"
        self._data = bytearray()
        self._pending: list[str] = []
        self._lock = threading.Lock()  # guards _data
        self._put_lock = threading.Lock()  # one upload at a time
        self._sent = 0  # bytes of _data already uploaded
        self.uploaded_at = 0.0  # time.monotonic() of the last upload

    def write(self, timestamp: float, text: str) -> None:
        self._pending.append(f"{timestamp:.6f} {text}\n")

    def flush(self) -> None:
        if not self._pending:
            return
        with self._lock:
            self._data += "".join(self._pending).encode("utf-8", "replace")
        self._pending.clear()
        self.ds._dirty(self)

    def upload(self) -> None:
        # One upload at a time: a slow older PUT must never land after a newer, longer one.
        with self._put_lock:
            with self._lock:
                if self._sent == len(self._data):
                    return
                data = bytes(self._data)
            self.uploaded_at = time.monotonic()
            s3client.client().put_object(Bucket=self.ds.bucket, Key=self.name, Body=data)
            self._sent = len(data)

    def close(self) -> None:
        self.flush()
        try:
            self.upload()
        except Exception as exc:  # noqa: BLE001 - a lost log must not stop the run
            print(f"headwater: could not store the log {self.path}: {exc}", flush=True)


# -- cards --------------------------------------------------------------------------------------


class S3CardFolder(CardFolder):
    """The cards of one attempt, as objects: :class:`.cards.CardFolder`'s index logic, with
    each file a PUT or a GET (one PUT is atomic, as the local rename is)."""

    def __init__(self, bucket: str, prefix: str) -> None:
        super().__init__(prefix)
        self.bucket = bucket

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.path}"

    def _name(self, file: str) -> str:
        return f"{self.path}/{os.path.basename(str(file))}"

    def _atomic_write(self, name: str, data: bytes) -> None:
        kind = "text/html; charset=utf-8" if name.endswith(".html") else "application/json"
        s3client.client().put_object(Bucket=self.bucket, Key=self._name(name), Body=data,
                                     ContentType=kind)

    def _get(self, file: str) -> str:
        name = self._name(file)
        try:
            return s3client.client().get_object(Bucket=self.bucket, Key=name)["Body"].read().decode("utf-8")
        except UnicodeDecodeError:
            raise
        except Exception as exc:  # noqa: BLE001
            if s3client.is_missing(exc):
                raise FileNotFoundError(f"s3://{self.bucket}/{name}") from None
            raise OSError(str(s3client.s3_error(exc, "read", self.bucket, name))) from None

    def index_text(self) -> str:
        return self._get(INDEX)

    def has(self, name: str) -> bool:
        return head(self.bucket, self._name(name)) is not None

    def read(self, info: CardInfo) -> str:
        return self._get(info.file)


# -- the datastore ------------------------------------------------------------------------------


class S3Datastore(Datastore):
    """Everything a run writes, under ``s3://bucket/prefix``."""

    def __init__(self, url: str) -> None:
        self.bucket, self.prefix = s3client.parse_url(url)
        self.url = f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"
        self.local_root = None
        self._blobs: BlobStore | None = None
        self._uploads: set[S3LogWriter] = set()
        self._uploads_lock = threading.Condition()
        self._uploader: threading.Thread | None = None
        self._uploader_pid = 0

    def __repr__(self) -> str:
        return f"S3Datastore({self.url!r})"

    def _key(self, *parts: Any) -> str:
        tail = "/".join(str(p) for p in parts)
        return f"{self.prefix}/{tail}" if self.prefix else tail

    def check(self) -> None:
        """Fail fast when the bucket cannot be used (credentials, endpoint, bucket)."""
        s3client.check_bucket(self.bucket, self.prefix)

    def warm_up(self) -> None:
        """Import boto3 and build an unused client before forking tasks, so that each task
        does not pay for them."""
        s3client.prepare_for_fork()

    @property
    def blobs(self) -> BlobStore:
        if self._blobs is None:
            from .blobs import BlobStore

            self._blobs = BlobStore(S3Storage(self.bucket, self.prefix))
        return self._blobs

    # -- logs ---------------------------------------------------------------------------------
    def _log(self, flow: str, run: int | str, step: str, task_id: int | str, attempt: int,
             stream: str) -> str:
        return self._key("logs", flow, run, step, task_id, f"{attempt}.{stream}")

    def log_writer(self, flow: str, run: int | str, step: str, task_id: int | str,
                   attempt: int, stream: str) -> Any:
        return S3LogWriter(self, self._log(flow, run, step, task_id, attempt, stream))

    def _dirty(self, writer: S3LogWriter) -> None:
        with self._uploads_lock:
            self._uploads.add(writer)
            if self._uploader is None or self._uploader_pid != os.getpid():
                self._uploader_pid = os.getpid()
                self._uploader = threading.Thread(target=self._upload_loop, daemon=True,
                                                  name="headwater-s3-logs")
                self._uploader.start()
            self._uploads_lock.notify()

    def _upload_loop(self) -> None:
        """Upload grown logs: a log not uploaded in the last second at once, others when due."""
        while True:
            with self._uploads_lock:
                while not self._uploads:
                    self._uploads_lock.wait()
                now = time.monotonic()
                due = {w for w in self._uploads if now - w.uploaded_at >= LOG_UPLOAD_EVERY}
                if not due:
                    soonest = min(w.uploaded_at for w in self._uploads) + LOG_UPLOAD_EVERY
                    self._uploads_lock.wait(max(0.01, soonest - now))
                    continue
                self._uploads -= due
            for writer in due:
                try:
                    writer.upload()
                except Exception:  # noqa: BLE001 - tried again later, and at close
                    with self._uploads_lock:
                        self._uploads.add(writer)

    def read_log(self, flow: str, run: int | str, step: str, task_id: int | str,
                 attempt: int, stream: str) -> list[tuple[float, str]]:
        data, _ = self.read_log_bytes(flow, run, step, task_id, attempt, stream, 0, 1 << 62)
        return parse_lines(data.decode("utf-8", "replace"))

    def has_log(self, flow: str, run: int | str, step: str, task_id: int | str,
                attempt: int, stream: str) -> bool:
        return head(self.bucket, self._log(flow, run, step, task_id, attempt, stream)) is not None

    def read_log_bytes(self, flow: str, run: int | str, step: str, task_id: int | str,
                       attempt: int, stream: str, start: int, limit: int) -> tuple[bytes, int]:
        name = self._log(flow, run, step, task_id, attempt, stream)
        size = head(self.bucket, name)
        if size is None:
            return b"", 0
        if start < 0:
            start = max(0, size + start)
        end = min(size, start + limit)
        if end <= start:
            return b"", size
        try:
            body = s3client.client().get_object(Bucket=self.bucket, Key=name,
                                                Range=f"bytes={start}-{end - 1}")["Body"]
            return body.read(), size
        except Exception as exc:  # noqa: BLE001
            if s3client.is_missing(exc):
                return b"", 0
            raise s3client.s3_error(exc, "read", self.bucket, name) from None

    # -- cards and caches -----------------------------------------------------------------------
    def cards(self, flow: str, run: int | str, step: str, task_id: int | str,
              attempt: int) -> Any:
        return S3CardFolder(self.bucket, self._key("cards", flow, run, step, task_id, attempt))

    def cache_dir(self) -> str:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return os.path.join(base, "headwater", "s3", self.bucket, self.prefix or "_")
