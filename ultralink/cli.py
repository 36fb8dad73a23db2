"""The ``ultralink`` command line: one subcommand per job.

Examples::

    ultralink prepare --language en --input data/sample/enwiki-sample.xml --output out/segments/en
    ultralink prepare --language zh --input 's3://dumps/zhwiki-*-pages-articles-multistream.xml.bz2' \\
        --output s3://bucket/ultralink/segments/zh --ray-address auto
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError


def run_job(name: str, job: Callable[[], object],
            usage_errors: tuple[type[Exception], ...] = ()) -> int:
    """Run one job the way every subcommand does: a bad config, path, endpoint, an output
    conflict or a busy output is one line and exit 2; no readable input at all, or units left
    not done, is one line and exit 1. Every line is redacted of credentials."""
    import yaml

    from ultralink.errors import UsageError, redact, yaml_error
    from ultralink.fs import NoInput
    from ultralink.llm.types import EngineGone
    from ultralink.pipeline.error_guard import TooManyErrors
    from ultralink.lease import LeaseLost
    from ultralink.sink import JobIncomplete, OutputConflict

    try:
        job()
    except ValidationError as exc:
        print(redact(f"ultralink {name}: bad config: {exc}"), file=sys.stderr)
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


def add_job_args(p: argparse.ArgumentParser, *, input_metavar: str, input_help: str,
                 language_help: str = "ISO 639-1 code: en, zh, ru, fr, es, …") -> None:
    """The arguments every per-language job shares, spelled the same everywhere:
    --language, --input (repeatable), --output, --ray-address, --overwrite."""
    p.add_argument("--language", required=True, help=language_help)
    p.add_argument("--input", action="append", required=True, metavar=input_metavar,
                   help=input_help)
    p.add_argument("--output", required=True, metavar="DIR_OR_S3_URI")
    p.add_argument("--ray-address", default=None, help="join this Ray cluster (default: "
                   "RAY_ADDRESS or a local Ray)")
    p.add_argument("--overwrite", action="store_true", help="delete the output and start over")


def _prepare_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare", help="Wikipedia dumps → clean, language-checked 1K–2K-token segments",
        description="Read MediaWiki XML dumps (plain/.bz2/.gz/.xz, multistream split across "
                    "workers), wikiextractor output, or Parquet/JSONL (id, title, text), clean "
                    "wikitext, keep documents in the target language (fastText lid.176) of "
                    "1K–10K tokens, convert Chinese to simplified (OpenCC t2s) and cut them into "
                    "sentence-safe segments. Writes sharded Parquet + _report.json + _manifest.json; "
                    "a rerun skips finished units.")
    add_job_args(p, input_metavar="PATH_OR_GLOB_OR_S3_URI",
                 input_help="input file, directory, glob or s3:// URI (repeatable)")
    p.add_argument("--config", default=None, help="YAML file with PrepareConfig keys "
                   "(top level or under 'prepare:')")
    p.add_argument("--min-doc-tokens", type=int)
    p.add_argument("--max-doc-tokens", type=int)
    p.add_argument("--min-segment-tokens", type=int)
    p.add_argument("--max-segment-tokens", type=int)
    p.add_argument("--langid-threshold", type=float)
    p.add_argument("--fasttext-model", help="path to lid.176.bin/.ftz (default: the shipped .ftz)")
    p.add_argument("--encoding", help="tiktoken encoding (default cl100k_base, offline fallback)")
    p.add_argument("--unit-mb", type=int, help="target MB of input per work unit (default 64)")
    p.set_defaults(func=_run_prepare)


def _run_prepare(args: argparse.Namespace) -> int:
    from ultralink.config import PrepareConfig
    from ultralink.pipeline.prepare import run_prepare

    def job() -> None:
        values: dict = {}
        if args.config:
            from ultralink.errors import load_yaml

            loaded = load_yaml(args.config) or {}
            values.update(loaded.get("prepare", loaded))
        for key in ("min_doc_tokens", "max_doc_tokens", "min_segment_tokens",
                    "max_segment_tokens", "langid_threshold", "fasttext_model", "encoding"):
            if getattr(args, key) is not None:
                values[key] = getattr(args, key)
        if args.unit_mb is not None:
            values["unit_bytes"] = args.unit_mb * 1024 * 1024
        run_prepare(args.language, args.input, args.output, PrepareConfig(**values),
                    args.ray_address, args.overwrite)

    return run_job("prepare", job)


# Each job module adds its own subcommand with ``add_cli(subparsers)``; the parser setter
# takes the job's arguments and returns the exit status.
JOB_MODULES = ("ultralink.specific.job", "ultralink.agnostic.job", "ultralink.build", "ultralink.stats",
               "ultralink.export", "ultralink.quality.gate", "ultralink.decontaminate")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="ultralink", description="Multilingual SFT data the UltraLink way, on Ray.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _prepare_parser(sub)
    for name in JOB_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # that job is not part of this installation yet
        module.add_cli(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from ultralink.errors import install_log_redaction, redact

    args = build_parser().parse_args(argv)
    # every log line (ours, botocore's headers under -v) and any traceback is redacted
    install_log_redaction("%(asctime)s %(levelname)s %(name)s: %(message)s",
                          logging.DEBUG if args.verbose else logging.INFO)
    sys.excepthook = lambda t, v, tb: sys.stderr.write(
        redact("".join(__import__("traceback").format_exception(t, v, tb))))
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
