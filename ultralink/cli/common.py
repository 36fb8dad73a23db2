"""What every subcommand shares: how a job is run and fails (one line, exit 2 or 1), and the
flags that several subcommands take."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pydantic import ValidationError


def run_job(name: str, job: Callable[[], object],
            usage_errors: tuple[type[Exception], ...] = (), uses_ray: bool = True) -> int:
    """Run one job the way every subcommand does: a bad config, path, endpoint, an output
    conflict or a busy output is one line and exit 2; no readable input at all, units left
    not done, a full disk, a denied store or a worker out of memory is one line and exit 1;
    Ctrl-C is one line and exit 130. The traceback only with ``-v``; every line is redacted
    of credentials. Errors raised in Ray workers are judged by what the worker raised."""
    from ultralink.core.errors import RESUME_HINT, redact

    verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
    try:
        with _ray_errors_off_stderr() if uses_ray and not verbose else contextlib.nullcontext():
            job()
    except KeyboardInterrupt:
        print(f"ultralink {name}: interrupted; {RESUME_HINT}", file=sys.stderr)
        return 130
    except Exception as exc:
        code, line = _failure(exc, usage_errors)
        if code is None:
            raise
        print(redact(f"ultralink {name}: {line}"), file=sys.stderr)
        if verbose and code == 1:  # a usage error's line is the whole story
            sys.stderr.write(redact("".join(traceback.format_exception(exc))))
        return code
    return 0


class _NoRayDataErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno >= logging.ERROR and record.name.startswith("ray.data"))


@contextlib.contextmanager
def _ray_errors_off_stderr() -> Iterator[None]:
    """Ray Data logs a failed task's traceback to stderr before it raises; the job's one line
    says it (Ray's session log files keep it, ``-v`` prints it)."""
    import ray.data  # noqa: F401 - sets up Ray Data's log handlers, which are filtered here

    quiet = _NoRayDataErrors()
    handlers = [h for name in ("ray", "ray.data") for h in logging.getLogger(name).handlers
                if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    for h in handlers:
        h.addFilter(quiet)
    try:
        yield
    finally:
        for h in handlers:
            h.removeFilter(quiet)


def _failure(exc: Exception, usage_errors: tuple[type[Exception], ...]
             ) -> tuple[int | None, str]:
    """``(exit code, line)`` for a failure the user reads as one line; ``(None, "")`` for a
    bug, whose traceback is the useful report."""
    import yaml

    from ultralink.core.errors import (RESUME_HINT, UsageError, causes, config_error,
                                       environment_failure, root_cause, yaml_error)
    from ultralink.core.fs import NoInput
    from ultralink.core.lease import LeaseLost
    from ultralink.dataset.sink import JobIncomplete, OutputConflict
    from ultralink.llm.types import EngineGone
    from ultralink.pipeline.error_guard import TooManyErrors

    root = root_cause(exc)
    if isinstance(root, ValidationError):
        return 2, f"bad config: {config_error(root)}"
    if isinstance(root, yaml.YAMLError):
        return 2, yaml_error(root)
    if isinstance(root, (UsageError, OutputConflict, ValueError, *usage_errors)):
        return 2, str(root)
    if isinstance(root, (FileNotFoundError, NotADirectoryError, IsADirectoryError,
                         PermissionError)):
        return 2, f"{root.filename or ''}: {root.strerror or root}"
    env = environment_failure(root) or environment_failure(exc)
    if env is not None:
        return 1, f"{env}; {RESUME_HINT} (-v: the traceback)"
    if isinstance(root, (NoInput, JobIncomplete, TooManyErrors, LeaseLost)):
        return 1, str(root)
    gone = next((e for e in causes(exc) if isinstance(e, EngineGone)), None)
    if gone is not None:
        return 1, str(gone)
    return None, ""


def cli_values(args: argparse.Namespace, keys: Iterable[str]) -> dict[str, Any]:
    """The flags among ``keys`` the user gave (argparse leaves the others None)."""
    return {k: getattr(args, k) for k in keys if getattr(args, k) is not None}


def job_args(p: argparse.ArgumentParser, *, input_metavar: str, input_help: str,
              language_help: str = "ISO 639-1 code: en, zh, ru, fr, es, …") -> None:
    """The arguments every per-language job shares, spelled the same everywhere:
    --language, --input (repeatable), --output, --ray-address, --overwrite."""
    p.add_argument("--language", required=True, help=language_help)
    p.add_argument("--input", action="append", required=True, metavar=input_metavar,
                   help=input_help)
    p.add_argument("--output", required=True, metavar="DIR_OR_S3_URI")
    ray_args(p)


def engine_args(p: argparse.ArgumentParser, *, engine_help: str, model_help: str) -> None:
    """The engine flags the LLM jobs share (``specific``, ``agnostic``), spelled alike."""
    p.add_argument("--engine", default=None, help=engine_help)
    p.add_argument("--model", default=None, help=model_help)
    p.add_argument("--base-url", default=None, help="OpenAI-compatible server (engine openai)")
    p.add_argument("--tensor-parallel-size", type=int, default=None, help="vLLM: GPUs per "
                   "engine host (the host reserves them)")
    p.add_argument("--num-hosts", type=int, default=None, help="engine hosts (one model each)")
    p.add_argument("--seed", type=int, default=None)


def run_dataset_command(name: str, output: str, command: Callable[[], Any]) -> Any | None:
    """Run a command over a built dataset: an unreadable dataset, or one with no
    ``{lang}/{subset}/*.parquet``, is one line on stderr and None (the caller exits 1)."""
    import pyarrow as pa

    try:
        result = command()
    except (OSError, ValueError, pa.ArrowException) as exc:
        print(f"ultralink {name}: {exc}", file=sys.stderr)
        return None
    if not result:
        print(f"ultralink {name}: no {{lang}}/{{subset}}/*.parquet under {output}",
              file=sys.stderr)
        return None
    return result


def ray_args(p: argparse.ArgumentParser, overwrite_help: str = "delete the output and start "
             "over") -> None:
    p.add_argument("--ray-address", default=None, help="join this Ray cluster (default: "
                   "RAY_ADDRESS or a local Ray)")
    p.add_argument("--overwrite", action="store_true", help=overwrite_help)


def subset_args(p: argparse.ArgumentParser) -> None:
    from ultralink.core.records import SUBSETS

    p.add_argument("output", metavar="OUTPUT", help="dataset root: directory or s3:// URI")
    p.add_argument("--languages", nargs="+", default=None, metavar="LANG",
                   help="only these language codes")
    p.add_argument("--subsets", nargs="+", choices=SUBSETS, default=None, metavar="SUBSET",
                   help="only these subsets: " + ", ".join(SUBSETS))


# ------------------------------------------------------------------------------- prepare


