"""One writer per output: a lease on the output and a fencing token in every unit marker.

Two runs on one output would interleave shards of different configs, and the Ray workers of a
killed driver go on for seconds; both must be kept from committing. The lease lives in the
output as ``_lease.json`` and carries a token that grows with each new holder:

- local: the file is locked with ``fcntl.flock`` for the life of the run (the kernel frees it
  when the process dies, so a rerun after a kill starts at once);
- S3: created with a conditional PUT (``If-None-Match: *``) and renewed by a heartbeat thread
  with ``If-Match: <etag>``; a lease whose heartbeat is older than the TTL (server clock) is
  taken over with ``If-Match``, so of two racing runs exactly one wins.

Before a unit's marker is written, the committing process reads the lease and compares its
token (:func:`check_token`): a worker of an older run finds a newer token and refuses.
The check and the write are two requests, so a window of one marker write remains; the token
in each marker lets a reader tell such a straggler apart.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from ultralink.core.errors import UsageError
from ultralink.core.fs import Location

log = logging.getLogger("ultralink.core.lease")

LEASE = "_lease.json"
TTL_ENV = "ULTRALINK_LEASE_TTL_S"
DEFAULT_TTL_S = 60.0


class OutputBusy(UsageError):
    """Another run holds the output's lease."""


class LeaseLost(Exception):
    """This process's run no longer holds the lease: it must not commit anything."""


def _ttl() -> float:
    return float(os.environ.get(TTL_ENV) or DEFAULT_TTL_S)


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _busy(out: Location, body: dict[str, Any], age: float | None = None) -> OutputBusy:
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(body.get("started", 0)))
    if age is None:  # local: the kernel holds the lock only while that process lives
        return OutputBusy(f"{out.uri} is being written by another run ({body.get('holder', '?')}"
                          f", since {since}); the process holds the lock for as long as it "
                          "lives: wait for it to end, or use another --output")
    left = max(0.0, _ttl() - age)
    return OutputBusy(f"{out.uri} is being written by another run ({body.get('holder', '?')}, "
                      f"since {since}, last heartbeat {age:.0f}s ago); a run that died stops "
                      f"renewing its lease and it expires {_ttl():.0f}s after its last "
                      f"heartbeat, in {left:.0f}s: then rerun to take over (the units it "
                      f"finished are kept); or use another --output")


class Lease:
    """The held lease of one output; :meth:`release` ends it."""

    def __init__(self, out: Location, token: int) -> None:
        self.out = out
        self.token = token
        self.started = time.time()
        self.lost = False
        self._file: Any = None                  # local: the locked file object
        self._etag = ""                         # S3: the lease object's current ETag
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- acquire ----------------------------------------------------------------------------
    @classmethod
    def acquire(cls, out: Location) -> Lease:
        """Take the lease of ``out`` or raise :class:`OutputBusy` naming the holder."""
        lease = cls._acquire_s3(out) if out.is_s3 else cls._acquire_local(out)
        _HELD.append(lease)
        return lease

    @classmethod
    def _acquire_local(cls, out: Location) -> Lease:
        import fcntl

        os.makedirs(out.path, exist_ok=True)
        f = open(os.path.join(out.path, LEASE), "a+", encoding="utf-8")  # noqa: SIM115 - held
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            body = _parse(f.read())
            f.close()
            raise _busy(out, body) from None
        f.seek(0)
        old = _parse(f.read())
        lease = cls(out, int(old.get("token", 0)) + 1)
        f.seek(0)
        f.truncate()
        f.write(json.dumps(lease._body()))
        f.flush()
        os.fsync(f.fileno())
        lease._file = f
        return lease

    @classmethod
    def _acquire_s3(cls, out: Location) -> Lease:
        bucket, key = _bucket_key(out)
        client = _client(out)
        current = _get_s3(client, bucket, key)
        if current is None:
            lease = cls(out, 1)
            cond = {"IfNoneMatch": "*"}
        else:
            body, etag, age = current
            if not body.get("released") and age < _ttl():
                raise _busy(out, body, age)
            lease = cls(out, int(body.get("token", 0)) + 1)
            cond = {"IfMatch": etag}
        try:
            lease._etag = _put_s3(client, bucket, key, lease._body(), cond)
        except _Precondition:
            raise _busy(out, (_get_s3(client, bucket, key) or ({}, "", 0))[0]) from None
        lease._thread = threading.Thread(target=lease._heartbeat, name="ultralink-lease",
                                         daemon=True)
        lease._thread.start()
        return lease

    def _body(self, released: bool = False) -> dict[str, Any]:
        return {"token": self.token, "holder": _holder(), "started": self.started,
                "renewed_at": time.time(), "released": released}

    # -- S3 heartbeat -----------------------------------------------------------------------
    def _heartbeat(self) -> None:
        bucket, key = _bucket_key(self.out)
        while not self._stop.wait(_ttl() / 4):
            try:
                self._etag = _put_s3(_client(self.out), bucket, key, self._body(),
                                     {"IfMatch": self._etag})
            except _Precondition:
                self.lost = True
                log.error("%s: lease taken over by another run; this run stops committing",
                          self.out.uri)
                return
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried on the next
                log.warning("%s: lease heartbeat failed (%s); retrying", self.out.uri, exc)

    # -- end --------------------------------------------------------------------------------
    def check(self) -> None:
        if self.lost:
            raise LeaseLost(f"{self.out.uri}: this run lost its lease (token {self.token})")
        check_token(self.out, self.token)

    def release(self) -> None:
        """Give the lease up (local: unlock; S3: mark released, keeping the token count)."""
        if self in _HELD:
            _HELD.remove(self)
        if self._file is not None:
            try:   # say so in the file too: a reader must not take a finished run for a live one
                self._file.seek(0)
                self._file.truncate()
                self._file.write(json.dumps(self._body(released=True)))
                self._file.flush()
            except OSError as exc:   # a full disk must not turn a finished run into a failure
                log.warning("%s: could not mark the lease released (%s)", self.out.uri, exc)
            self._file.close()   # closing the descriptor drops the flock
            self._file = None
            return
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            self._thread = None
            if not self.lost:
                bucket, key = _bucket_key(self.out)
                with contextlib.suppress(Exception):
                    _put_s3(_client(self.out), bucket, key, self._body(released=True),
                            {"IfMatch": self._etag})


def check_token(out: Location, token: int) -> None:
    """Raise :class:`LeaseLost` unless ``token`` is the output's current lease token."""
    current: Any = None
    try:
        if out.is_s3:
            bucket, key = _bucket_key(out)
            got = _get_s3(_client(out), bucket, key)
            current = got[0].get("token") if got else None
        else:
            with open(os.path.join(out.path, LEASE), encoding="utf-8") as f:
                current = _parse(f.read()).get("token")
    except FileNotFoundError:
        current = None
    if current != token:
        raise LeaseLost(f"{out.uri}: lease token is {current}, this worker holds {token}: "
                        "a newer run owns the output; not committing")


# -- scopes: leases taken inside a job function are released when it returns or raises ------

_HELD: list[Lease] = []
F = TypeVar("F", bound=Callable[..., Any])


def releasing(fn: F) -> F:
    """Release every lease taken during ``fn`` (by this thread) when it returns or raises."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        mark = len(_HELD)
        try:
            return fn(*args, **kwargs)
        finally:
            for lease in reversed(_HELD[mark:]):
                lease.release()

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def held(out: Location) -> Iterator[Lease]:
    lease = Lease.acquire(out)
    try:
        yield lease
    finally:
        lease.release()


# -- S3 plumbing ----------------------------------------------------------------------------

class _Precondition(Exception):
    pass


def _parse(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text or "{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _bucket_key(out: Location) -> tuple[str, str]:
    bucket, _, prefix = out.path.partition("/")
    return bucket, (prefix.rstrip("/") + "/" if prefix else "") + LEASE


def _client(out: Location) -> Any:
    from ultralink.core.fs import s3_client, s3_options

    return s3_client(out.s3 or s3_options())


def _get_s3(client: Any, bucket: str, key: str) -> tuple[dict[str, Any], str, float] | None:
    """(body, etag, age in seconds by the server's clock) or None when there is no lease."""
    from email.utils import parsedate_to_datetime

    try:
        resp = client.get_object(Bucket=bucket, Key=key)
    except client.exceptions.NoSuchKey:
        return None
    body = _parse(resp["Body"].read().decode("utf-8", "replace"))
    now = resp.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    age = 0.0
    if now:
        age = max(0.0, (parsedate_to_datetime(now) - resp["LastModified"]).total_seconds())
    return body, resp["ETag"], age


def _put_s3(client: Any, bucket: str, key: str, body: dict[str, Any],
            cond: dict[str, str]) -> str:
    from botocore.exceptions import ClientError

    try:
        resp = client.put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode(), **cond)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
            raise _Precondition(code) from None
        raise
    return resp["ETag"]
