"""User errors as one line, and credentials kept out of every message and log line.

A week-long job is started by an operator who reads stderr: a bad config, path or endpoint
must be one line naming the thing and the reason (exit 2), never a traceback; and nothing we
print or log may carry a secret (``s3://KEY:SECRET@…``, botocore's ``Authorization`` header,
the driver's AWS keys).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from typing import Any


class UsageError(Exception):
    """A problem the user fixes (config, paths, endpoint, credentials): one line, exit 2."""


# scheme://user:password@host  or  scheme://user@host  -> scheme://***@host (an AWS secret
# may hold "/" and "+", so after "user:" anything up to the "@" is the password)
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)"
                       r"(?:[^/\s@:'\"]+:[^\s@'\"]*|[^/\s@:'\"]+)@")
# SigV4 header / presigned-URL pieces and raw header values
_PATTERNS = (
    (re.compile(r"(Credential=)[^,\s&'\"]+", re.I), r"\1***"),
    (re.compile(r"(Signature=)[0-9a-f]+", re.I), r"\1***"),
    (re.compile(r"((?:X-Amz-Security-Token|X-Amz-Credential|X-Amz-Signature)['\"]?\s*[:=]\s*"
                r"b?['\"]?)[^\s,'\"&}]+", re.I), r"\1***"),
    (re.compile(r"((?:Authorization|aws_secret_access_key|aws_access_key_id|aws_session_token)"
                r"['\"]?\s*[:=]\s*b?['\"]?)[^'\"\n,}]+", re.I), r"\1***"),
)
_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN",
               "OPENAI_API_KEY", "HF_TOKEN")


def has_userinfo(uri: str) -> bool:
    """``uri`` carries credentials (``s3://KEY:SECRET@bucket/…``)."""
    return bool(_USERINFO.match(uri))


def redact(text: str) -> str:
    """``text`` with URI userinfo, SigV4 credentials and known secret values replaced by ``***``."""
    text = _USERINFO.sub(r"\g<scheme>***@", text)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    for name in _SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 4:   # short test values ("x") would shred ordinary text
            text = text.replace(value, "***")
    return text


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then redacts the whole line (message, args and traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingFilter(logging.Filter):
    """Redacts a record's message in place, for handlers someone else formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        return True


def install_log_redaction(fmt: str, level: int) -> None:
    """Root logging at ``level`` whose every handler redacts secrets (the CLI's setup)."""
    root = logging.getLogger()
    ours = not root.handlers
    logging.basicConfig(level=level, format=fmt)
    root.setLevel(level)
    for handler in root.handlers:
        if ours:
            handler.setFormatter(RedactingFormatter(fmt))
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def load_yaml(path: str) -> Any:
    """A YAML file's content; a missing/unreadable file or a syntax error is a UsageError
    naming the file and (for syntax) the line and column."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise UsageError(yaml_error(exc, path)) from None


def yaml_error(exc: Exception, path: str | None = None) -> str:
    """One line for a YAML syntax error: the file, line and column when known, the problem."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    name = path or (mark.name if mark is not None else "YAML")
    return f"{name}: YAML syntax error{where}: {problem}"


def config_section(path: str | None, section: str | None) -> dict[str, Any]:
    """The one config loader: a YAML file's keys for one job, at the top level or under
    ``section:`` (so a job file and a whole build file both work); ``{}`` without a file.
    Errors are :func:`load_yaml`'s one line; CLI flags are applied by the caller."""
    if not path:
        return {}
    loaded = load_yaml(path) or {}
    if not isinstance(loaded, dict):
        raise UsageError(f"{path}: expected a mapping of config keys, got "
                         f"{type(loaded).__name__}")
    if section is not None and isinstance(loaded.get(section), dict):
        return dict(loaded[section])
    return dict(loaded)


def config_error(exc: Any) -> str:
    """A pydantic ``ValidationError`` as one line, naming each key path:
    ``sizes.max_dialoges: unknown key; seed: Input should be a valid integer``."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


# -- failures of the machine, not the job: one line naming the root cause ------------------

RESUME_HINT = "the units already finished are kept: rerun the same command to resume"
_S3_DENIED = ("AccessDenied", "ACCESS_DENIED", "InvalidAccessKeyId", "SignatureDoesNotMatch",
              "AllAccessDisabled", "InvalidToken", "ExpiredToken")


class WorkerError(Exception):
    """What a Ray worker raised, known only from the text Ray kept of it (Ray Data passes the
    traceback as text, not the exception object)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")


_RAISED = re.compile(r"^(?P<name>[A-Za-z_][\w.]*(?:Error|Exception))(?:: (?P<msg>.*))?$",
                     re.MULTILINE)
_ERRNO = re.compile(r"^\[Errno (?P<errno>\d+)\] (?P<strerror>.*?)(?:: '(?P<filename>.*)')?$")


def root_cause(exc: BaseException) -> BaseException:
    """The exception a worker really raised, out of Ray's wrappers (``RayTaskError.cause``,
    Ray Data's ``UserCodeException``), whose text is a whole traceback: rebuilt from that
    text when Ray kept only the text (a builtin type as itself, any other as
    :class:`WorkerError`)."""
    for current in causes(exc):
        if not type(current).__module__.startswith("ray."):
            return current
    return _from_text(str(exc)) or exc


def _from_text(text: str) -> BaseException | None:
    """The first exception a traceback's text names that is not Ray's own."""
    import builtins

    for m in _RAISED.finditer(text):
        name, msg = m["name"], (m["msg"] or "").strip()
        if name.startswith("ray."):
            continue
        cls = getattr(builtins, name, None)
        if not (isinstance(cls, type) and issubclass(cls, Exception)):
            return WorkerError(name, msg)
        e = _ERRNO.match(msg)
        if e and issubclass(cls, OSError):
            return cls(int(e["errno"]), e["strerror"], *([e["filename"]] if e["filename"] else []))
        return cls(msg) if msg else cls()
    return None


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what it wraps: Ray's ``.cause``, else ``__cause__`` or ``__context__``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        inner = getattr(current, "cause", None)
        current = (inner if isinstance(inner, BaseException)
                   else current.__cause__ or current.__context__)


def environment_failure(exc: BaseException) -> str | None:
    """One line for a failure of the machine or the store the job cannot fix itself (disk
    full, permission or S3 access denied, out of memory), found anywhere in ``exc``'s chain;
    ``None`` for anything else."""
    return next(filter(None, map(_environment_line, causes(exc))), None)


def _environment_line(exc: BaseException) -> str | None:
    import errno

    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    where = f" ({exc.filename})" if isinstance(exc, OSError) and exc.filename else ""
    code = getattr(exc, "errno", None)
    if code == errno.ENOSPC or "No space left on device" in text:
        return f"no space left on device{where}"
    if code == errno.EDQUOT or "Disk quota exceeded" in text:
        return f"disk quota exceeded{where}"
    error_code = getattr(exc, "response", {}).get("Error", {}).get("Code", "") \
        if isinstance(getattr(exc, "response", None), dict) else ""
    if error_code in _S3_DENIED or any(k in text for k in _S3_DENIED):
        return f"S3 access denied: {text[:300]}"
    if isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM):
        return f"permission denied{where}"
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return ("out of memory in a worker: lower the batch or actor counts in the config, or "
                "give the nodes more memory")
    return None
