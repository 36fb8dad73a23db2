"""What every subcommand shares: how a job is run and fails (one line, exit 2 or 1), and the
flags that several subcommands take."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError


def run_job(name: str, job: Callable[[], object],
            usage_errors: tuple[type[Exception], ...] = ()) -> int:
    """Run one job the way every subcommand does: a bad config, path, endpoint, an output
    conflict or a busy output is one line and exit 2; no readable input at all, or units left
    not done, is one line and exit 1. Every line is redacted of credentials."""
    import yaml

    from ultralink.core.errors import UsageError, config_error, redact, yaml_error
    from ultralink.core.fs import NoInput
    from ultralink.core.lease import LeaseLost
    from ultralink.dataset.sink import JobIncomplete, OutputConflict
    from ultralink.llm.types import EngineGone
    from ultralink.pipeline.error_guard import TooManyErrors

    try:
        job()
    except ValidationError as exc:
        print(redact(f"ultralink {name}: bad config: {config_error(exc)}"), file=sys.stderr)
        return 2
    except yaml.YAMLError as exc:
        print(redact(f"ultralink {name}: {yaml_error(exc)}"), file=sys.stderr)
        return 2
    except (UsageError, OutputConflict, ValueError, *usage_errors) as exc:
        print(redact(f"ultralink {name}: {exc}"), file=sys.stderr)
        return 2
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as exc:
        print(redact(f"ultralink {name}: {exc.filename or ''}: {exc.strerror or exc}"),
              file=sys.stderr)
        return 2
    except (NoInput, JobIncomplete, TooManyErrors, LeaseLost) as exc:
        print(redact(f"ultralink {name}: {exc}"), file=sys.stderr)
        return 1
    except Exception as exc:  # Ray wraps errors raised in its workers; look for ours inside
        gone = _cause_of_type(exc, EngineGone)
        if gone is None:
            raise
        print(redact(f"ultralink {name}: {gone}"), file=sys.stderr)
        return 1
    return 0


def _cause_of_type(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """``exc`` or the first exception of ``kind`` in its cause/context chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


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


