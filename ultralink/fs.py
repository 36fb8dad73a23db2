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
import uuid
from dataclasses import dataclass, field

import pyarrow.fs as pafs
from tenacity import retry, stop_after_attempt, wait_exponential

log = logging.getLogger("ultralink.fs")

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
    """Turn a local path or ``s3://bucket/key`` into a :class:`Location`."""
    if uri.startswith("s3://"):
        opts = s3_options()
        return Location(s3_filesystem(opts), uri[len("s3://"):].rstrip("/"), uri.rstrip("/"), opts)
    path = os.path.abspath(os.path.expanduser(uri))
    return Location(pafs.LocalFileSystem(), path, uri)


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
            if loc.uri not in seen:
                seen.add(loc.uri)
                files.append(loc)
    return files, missing


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


def _expand_one(uri: str) -> list[Location]:
    if not uri.startswith("s3://"):
        path = os.path.expanduser(uri)
        if any(c in path for c in _GLOB_CHARS):
            return [resolve(p) for p in sorted(glob.glob(path, recursive=True)) if os.path.isfile(p)]
        if os.path.isdir(path):
            return [resolve(p) for p in sorted(glob.glob(os.path.join(path, "**", "*"), recursive=True))
                    if os.path.isfile(p) and not os.path.basename(p).startswith((".", "_"))]
        return [resolve(path)] if os.path.isfile(path) else []
    loc = resolve(uri)
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
