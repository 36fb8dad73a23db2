"""Local paths and ``s3://`` URIs behind one pyarrow filesystem API.

S3 credentials come from the standard AWS chain; ``AWS_ENDPOINT_URL`` (or
``AWS_ENDPOINT_URL_S3``) points at a non-AWS endpoint such as a moto server on 127.0.0.1.
The filesystem object is picklable, so it is created on the driver and handed to Ray
tasks explicitly.
"""

from __future__ import annotations

import fnmatch
import functools
import glob
import logging
import os
import posixpath
import tempfile
import uuid
from dataclasses import dataclass, field

import pyarrow.fs as pafs
from tenacity import retry, stop_after_attempt, wait_exponential

from ultralink.core.errors import UsageError, has_userinfo, redact

log = logging.getLogger("ultralink.core.fs")

_GLOB_CHARS = set("*?[")


@dataclass(frozen=True, slots=True)
class Location:
    """A filesystem plus a path on it; ``uri`` is what the user wrote (for messages).

    ``s3`` holds the endpoint/region resolved on the driver, so workers on other nodes write
    to the same endpoint without depending on their own environment.
    """

    fs: pafs.FileSystem
    path: str
    uri: str
    s3: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # may hold keys: never print
    version: str = ""   # input identity: "size=…;mtime_ns=…" (local) or "etag=…" (S3)

    def join(self, *parts: str) -> Location:
        path = posixpath.join(self.path, *parts)
        uri = self.uri.rstrip("/") + "/" + "/".join(parts)
        return Location(self.fs, path, uri, self.s3)

    @property
    def is_s3(self) -> bool:
        return self.uri.startswith("s3://")


_ENV_KEYS = (("access_key", "AWS_ACCESS_KEY_ID"), ("secret_key", "AWS_SECRET_ACCESS_KEY"),
             ("session_token", "AWS_SESSION_TOKEN"))


def s3_options() -> tuple[tuple[str, str], ...]:
    """Endpoint, region and static credentials as the driver sees them.

    Static keys from the driver's environment travel with the job so every worker uses the
    same identity; without them workers use their own AWS chain (instance profiles, whose
    rotating tokens must not be frozen into a long job).
    """
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    opts = [("endpoint", endpoint), ("region", region)]
    if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
        opts += [(name, os.environ[env]) for name, env in _ENV_KEYS if os.environ.get(env)]
    return tuple(opts)


def s3_filesystem(options: tuple[tuple[str, str], ...] | None = None) -> pafs.S3FileSystem:
    """An S3 filesystem (for reads and listings), with retries for transient failures."""
    opts = dict(options or s3_options())
    endpoint = opts["endpoint"]
    kwargs: dict = {
        "region": opts["region"],
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=10),
        "connect_timeout": 10,
        "request_timeout": 60,
    }
    for name in ("access_key", "secret_key", "session_token"):
        if opts.get(name):
            kwargs[name] = opts[name]
    if endpoint:
        kwargs["endpoint_override"] = endpoint
        kwargs["scheme"] = "https" if endpoint.startswith("https") else "http"
    return pafs.S3FileSystem(**kwargs)


def resolve(uri: str) -> Location:
    """Turn a local path or ``s3://bucket/key`` into a :class:`Location`.

    Credentials inside a URI (``s3://KEY:SECRET@bucket``) are refused without echoing them:
    they would end up in manifests, reports and logs. An ``s3://`` key is normalised once
    (:func:`normal_s3_uri`), so writing, reports, manifests and resume all see one key.
    """
    if uri.startswith("s3://"):
        if has_userinfo(uri):
            raise UsageError(f"{redact(uri)}: credentials do not belong in the URI; set "
                             "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or a profile) instead")
        uri = normal_s3_uri(uri)
        opts = s3_options()
        return Location(s3_filesystem(opts), uri[len("s3://"):], uri, opts)
    path = os.path.abspath(os.path.expanduser(uri))
    return Location(pafs.LocalFileSystem(), path, uri)


def normal_s3_uri(uri: str) -> str:
    """``s3://bucket/key`` with ``.``, ``..`` and doubled or trailing slashes resolved the way
    a path would be (S3 itself keeps them as literal key characters); a URI with no bucket,
    or whose ``..`` climbs above the bucket, is refused with one line."""
    bucket, _, key = uri[len("s3://"):].partition("/")
    if not bucket or bucket in (".", ".."):
        raise UsageError(f"{uri}: no bucket name after s3://")
    parts: list[str] = []
    for part in key.split("/"):
        if part == "..":
            if not parts:
                raise UsageError(f"{uri}: '..' climbs above the bucket {bucket!r}")
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(["s3:/", bucket, *parts])


def expand(uris: list[str]) -> tuple[list[Location], list[tuple[str, str]]]:
    """Expand paths, directories and globs into files.

    Returns ``(files, missing)`` where ``missing`` lists ``(uri, reason)`` for inputs that
    matched nothing, so the caller can report them and go on with the rest.
    """
    files: list[Location] = []
    missing: list[tuple[str, str]] = []
    seen: set[str] = set()
    for uri in uris:
        found = _expand_one(uri)
        if not found:
            missing.append((uri, "no such file or no match"))
        for loc in found:
            key = loc.uri if loc.is_s3 else os.path.realpath(loc.path)
            if key not in seen:   # one file named twice (relative, absolute, ``..//``) is one input
                seen.add(key)
                files.append(identify(loc))
    return files, missing


def identify(loc: Location) -> Location:
    """``loc`` with its identity (size + mtime locally, ETag on S3) in ``version``, so a unit
    key changes when the file behind a name changes."""
    if loc.is_s3:
        bucket, key = loc.path.split("/", 1)
        head = s3_client(loc.s3).head_object(Bucket=bucket, Key=key)
        version = f"etag={head['ETag'].strip(chr(34))};size={head['ContentLength']}"
    else:
        st = os.stat(loc.path)
        version = f"size={st.st_size};mtime_ns={st.st_mtime_ns}"
    return Location(loc.fs, loc.path, loc.uri, loc.s3, version)


def identities(uris: list[str]) -> list[tuple[str, str]]:
    """``(uri, version)`` of every file the inputs expand to (for stage keys and manifests)."""
    files, missing = expand(uris)
    return [(f.uri, f.version) for f in files] + [(uri, "missing") for uri, _ in missing]


class NoInput(Exception):
    """No input could be read at all: the only case that makes a job exit 1."""


def expand_inputs(uris: list[str]) -> tuple[list[Location], list[str]]:
    """:func:`expand`, with one logged problem line per input that matched nothing, so a job
    reports the bad inputs and goes on with the rest."""
    files, missing = expand(uris)
    problems = [f"{uri}: {reason}" for uri, reason in missing]
    for line in problems:
        log.error("%s", line)
    return files, problems


def _local(path: str) -> Location:
    """A local input named by its normalised absolute path (one name per file)."""
    path = os.path.abspath(path)
    return Location(pafs.LocalFileSystem(), path, path)


def _expand_one(uri: str) -> list[Location]:
    if not uri.startswith("s3://"):
        path = os.path.expanduser(uri)
        if any(c in path for c in _GLOB_CHARS):
            return [_local(p) for p in sorted(glob.glob(path, recursive=True)) if os.path.isfile(p)]
        if os.path.isdir(path):
            return [_local(p) for p in sorted(glob.glob(os.path.join(path, "**", "*"), recursive=True))
                    if os.path.isfile(p) and not os.path.basename(p).startswith((".", "_"))]
        return [_local(path)] if os.path.isfile(path) else []
    loc = resolve(uri)
    check_s3(loc)
    if any(c in loc.path for c in _GLOB_CHARS):
        prefix = loc.path
        for i, c in enumerate(loc.path):
            if c in _GLOB_CHARS:
                prefix = loc.path[:i].rsplit("/", 1)[0]
                break
        infos = loc.fs.get_file_info(pafs.FileSelector(prefix, recursive=True, allow_not_found=True))
        return [Location(loc.fs, i.path, "s3://" + i.path, loc.s3) for i in sorted(infos, key=lambda i: i.path)
                if i.type == pafs.FileType.File and fnmatch.fnmatch(i.path, loc.path)]
    info = loc.fs.get_file_info(loc.path)
    if info.type == pafs.FileType.File:
        return [loc]
    if info.type == pafs.FileType.Directory:
        infos = loc.fs.get_file_info(pafs.FileSelector(loc.path, recursive=True))
        return [Location(loc.fs, i.path, "s3://" + i.path, loc.s3) for i in sorted(infos, key=lambda i: i.path)
                if i.type == pafs.FileType.File and not posixpath.basename(i.path).startswith((".", "_"))]
    return []


def write_atomic(loc: Location, data: bytes) -> None:
    """Write a whole object so that readers see either nothing or all of it.

    Local: write a temporary sibling, then ``os.replace``. S3: one PUT (an object appears
    only when its upload completes), retried on transient errors.
    """
    if loc.is_s3:
        bucket, key = loc.path.split("/", 1)
        _put_retrying(loc.s3, bucket, key, data)
        return
    os.makedirs(os.path.dirname(loc.path), exist_ok=True)
    tmp = f"{loc.path}.tmp-{uuid.uuid4().hex}"
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, loc.path)


def staging_file(dir: str | None, prefix: str, suffix: str = "") -> tuple[int, str]:
    """``(fd, path)`` of a new temporary file, with the mode ``open()`` would give it.

    ``mkstemp`` creates 0600; a dataset renamed from it would be unreadable to the other
    users of a shared filesystem while the JSON files beside it are 0644.
    """
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=dir)
    os.fchmod(fd, 0o666 & ~_umask())
    return fd, path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def s3_client(options: tuple[tuple[str, str], ...]):
    """A boto3 S3 client for ``options`` (cached per process; botocore retries built in).

    Writes go through boto3: a single PUT below the multipart threshold and a managed
    multipart upload above it, which also works against S3-compatible test servers.
    """
    return _client(options)


@functools.lru_cache(maxsize=8)
def _client(options: tuple[tuple[str, str], ...]):
    import boto3
    from botocore.config import Config

    opts = dict(options)
    return boto3.client("s3", endpoint_url=opts.get("endpoint") or None, region_name=opts.get("region"),
                        aws_access_key_id=opts.get("access_key"),
                        aws_secret_access_key=opts.get("secret_key"),
                        aws_session_token=opts.get("session_token"),
                        config=Config(retries={"max_attempts": 10, "mode": "standard"},
                                      connect_timeout=10, read_timeout=60))


@retry(stop=stop_after_attempt(6), wait=wait_exponential(multiplier=0.5, max=10), reraise=True)
def _put_retrying(options: tuple[tuple[str, str], ...], bucket: str, key: str, data: bytes) -> None:
    s3_client(options).put_object(Bucket=bucket, Key=key, Body=data)


@retry(stop=stop_after_attempt(6), wait=wait_exponential(multiplier=0.5, max=10), reraise=True)
def upload_file(local_path: str, loc: Location) -> None:
    """Upload a finished local file as one object (managed multipart when large)."""
    bucket, key = loc.path.split("/", 1)
    s3_client(loc.s3).upload_file(local_path, bucket, key)


def check_s3(loc: Location, timeout: float = 5.0) -> None:
    """Fail fast, in one line, when ``loc``'s bucket cannot be reached or used.

    The filesystem's own retries (minutes against a dead endpoint) are for transient errors
    during a job; before a job starts one short attempt tells the operator what is wrong.
    """
    if not loc.is_s3:
        return
    problem = _s3_problem(loc.s3, loc.path.split("/", 1)[0], timeout)
    if problem:
        raise UsageError(redact(f"{loc.uri}: {problem}"))


@functools.lru_cache(maxsize=32)
def _s3_problem(options: tuple[tuple[str, str], ...], bucket: str, timeout: float) -> str:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    opts = dict(options)
    endpoint = opts.get("endpoint") or "AWS S3"
    client = boto3.client("s3", endpoint_url=opts.get("endpoint") or None,
                          region_name=opts.get("region"),
                          aws_access_key_id=opts.get("access_key"),
                          aws_secret_access_key=opts.get("secret_key"),
                          aws_session_token=opts.get("session_token"),
                          config=Config(retries={"max_attempts": 1, "mode": "standard"},
                                        connect_timeout=timeout, read_timeout=timeout))
    try:
        client.head_bucket(Bucket=bucket)
    except NoCredentialsError:
        return "no AWS credentials found (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile)"
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            return f"bucket {bucket!r} does not exist at {endpoint}"
        if code in ("403", "AccessDenied", "Forbidden"):
            return f"access to bucket {bucket!r} denied at {endpoint} (check credentials)"
        return f"bucket {bucket!r} at {endpoint}: {code or exc}"
    except BotoCoreError as exc:
        return f"S3 endpoint {endpoint} not reachable within {timeout:g}s ({type(exc).__name__})"
    return ""


def check_output(loc: Location) -> None:
    """A usable output: a reachable bucket, or a local path with no file in the way."""
    if loc.is_s3:
        check_s3(loc)
        return
    path = loc.path
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{loc.uri}: output path is a file, not a directory")
    parent = path
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent) if os.path.dirname(parent) != parent else ""
    if parent and not os.path.isdir(parent):
        raise UsageError(f"{loc.uri}: output path lies under {parent}, which is a file")
    if parent and not os.access(parent, os.W_OK):
        raise UsageError(f"{loc.uri}: {parent} is not writable")


def read_bytes(loc: Location) -> bytes:
    with loc.fs.open_input_stream(loc.path) as f:
        return f.read()


def exists(loc: Location) -> bool:
    return loc.fs.get_file_info(loc.path).type != pafs.FileType.NotFound


def list_files(loc: Location, suffix: str = "") -> list[Location]:
    """Files directly or recursively under ``loc`` ending with ``suffix`` (sorted)."""
    infos = loc.fs.get_file_info(pafs.FileSelector(loc.path, recursive=True, allow_not_found=True))
    base = loc.uri.rstrip("/")
    out = []
    for i in sorted(infos, key=lambda i: i.path):
        if i.type == pafs.FileType.File and i.path.endswith(suffix):
            rel = posixpath.relpath(i.path, loc.path)
            out.append(Location(loc.fs, i.path, base + "/" + rel, loc.s3))
    return out


def delete_dir(loc: Location) -> None:
    if exists(loc):
        loc.fs.delete_dir_contents(loc.path, missing_dir_ok=True)


def makedirs(loc: Location) -> None:
    if not loc.is_s3:
        os.makedirs(loc.path, exist_ok=True)
