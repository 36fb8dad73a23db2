"""The ``ultralink`` command line: every subcommand's arguments, and how a job is run.

All argparse lives in this package; job modules expose plain functions and typed configs and never
import this module (the arrows point one way: cli → jobs). Config files are read by one
loader (:func:`ultralink.core.errors.config_section`), CLI flags override them, and every job's
failure ends as one redacted line with exit 2 (the user's to fix) or 1 (the run's).

Examples::

    ultralink build --config sample --output ./out
    ultralink prepare --language en --input data/sample/enwiki-sample.xml --output out/segments/en
    ultralink prepare --language zh --input 's3://dumps/zhwiki-*-pages-articles-multistream.xml.bz2' \\
        --output s3://bucket/ultralink/segments/zh --ray-address auto
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from ultralink.cli.dataset import (
    decontaminate_parser,
    export_parser,
    stats_parser,
    validate_parser,
)
from ultralink.cli.jobs import (
    agnostic_parser,
    build_subparser,
    prepare_parser,
    specific_parser,
)

SUBCOMMANDS = (prepare_parser, specific_parser, agnostic_parser, build_subparser,
               stats_parser, export_parser, validate_parser, decontaminate_parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ultralink", description="Multilingual SFT data the UltraLink way, on Ray.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only "
                        "(no progress lines, no progress bars)")
    parser.add_argument("--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="logging level (default INFO; -v is DEBUG, -q WARNING)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from ultralink.core.errors import install_log_redaction, redact

    args = build_parser().parse_args(argv)
    # every log line (ours, botocore's headers under -v) and any traceback is redacted
    level = args.log_level or ("DEBUG" if args.verbose else "WARNING" if args.quiet else "INFO")
    install_log_redaction("%(asctime)s %(levelname)s %(name)s: %(message)s",
                          getattr(logging, level))
    if args.quiet:
        os.environ["ULTRALINK_QUIET"] = "1"   # init_ray: no Ray Data progress bars
    sys.excepthook = lambda t, v, tb: sys.stderr.write(
        redact("".join(__import__("traceback").format_exception(t, v, tb))))
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
