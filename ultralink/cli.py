"""The ``ultralink`` command line: every subcommand's arguments, and how a job is run.

All argparse lives here; job modules expose plain functions and typed configs and never
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
import sys
from collections.abc import Callable, Iterable, Sequence
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
    from ultralink.llm.types import EngineGone
    from ultralink.pipeline.error_guard import TooManyErrors
    from ultralink.core.lease import LeaseLost
    from ultralink.dataset.sink import JobIncomplete, OutputConflict

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


def _cli_values(args: argparse.Namespace, keys: Iterable[str]) -> dict[str, Any]:
    """The flags among ``keys`` the user gave (argparse leaves the others None)."""
    return {k: getattr(args, k) for k in keys if getattr(args, k) is not None}


def _job_args(p: argparse.ArgumentParser, *, input_metavar: str, input_help: str,
              language_help: str = "ISO 639-1 code: en, zh, ru, fr, es, …") -> None:
    """The arguments every per-language job shares, spelled the same everywhere:
    --language, --input (repeatable), --output, --ray-address, --overwrite."""
    p.add_argument("--language", required=True, help=language_help)
    p.add_argument("--input", action="append", required=True, metavar=input_metavar,
                   help=input_help)
    p.add_argument("--output", required=True, metavar="DIR_OR_S3_URI")
    _ray_args(p)


def _ray_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ray-address", default=None, help="join this Ray cluster (default: "
                   "RAY_ADDRESS or a local Ray)")
    p.add_argument("--overwrite", action="store_true", help="delete the output and start over")


def _subset_args(p: argparse.ArgumentParser) -> None:
    from ultralink.core.records import SUBSETS

    p.add_argument("output", metavar="OUTPUT", help="dataset root: directory or s3:// URI")
    p.add_argument("--languages", nargs="+", default=None, metavar="LANG",
                   help="only these language codes")
    p.add_argument("--subsets", nargs="+", choices=SUBSETS, default=None, metavar="SUBSET",
                   help="only these subsets: " + ", ".join(SUBSETS))


# ------------------------------------------------------------------------------- prepare


def _prepare_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare", help="Wikipedia dumps → clean, language-checked 1K–2K-token segments",
        description="Read MediaWiki XML dumps (plain/.bz2/.gz/.xz, multistream split across "
                    "workers), wikiextractor output, or Parquet/JSONL (id, title, text), clean "
                    "wikitext, keep documents in the target language (fastText lid.176) of "
                    "1K–10K tokens, convert Chinese to simplified (OpenCC t2s) and cut them into "
                    "sentence-safe segments. Writes sharded Parquet + _report.json + _manifest.json; "
                    "a rerun skips finished units.")
    _job_args(p, input_metavar="PATH_OR_GLOB_OR_S3_URI",
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
    from ultralink.core.config import PrepareConfig
    from ultralink.core.errors import config_section
    from ultralink.jobs.prepare import run_prepare

    def job() -> None:
        values = config_section(args.config, "prepare")
        values.update(_cli_values(args, ("min_doc_tokens", "max_doc_tokens",
                                         "min_segment_tokens", "max_segment_tokens",
                                         "langid_threshold", "fasttext_model", "encoding")))
        if args.unit_mb is not None:
            values["unit_bytes"] = args.unit_mb * 1024 * 1024
        run_prepare(args.language, args.input, args.output, PrepareConfig(**values),
                    args.ray_address, args.overwrite)

    return run_job("prepare", job)


# ------------------------------------------------------------------------------ specific


def _specific_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "specific", help="segments → grounded multi-turn dialogues (language-specific chat)",
        description="Generate UltraLink language-specific dialogues from `ultralink prepare` "
                    "segments: initial question and answer, then in-depth/expansive follow-ups "
                    "until a growing stop probability ends the dialogue. Every message is "
                    "validated (language, leakage, echo, question form, length, truncation) "
                    "and retried with a new seed. Writes sharded Parquet in the conversation "
                    "schema + _report.json; a rerun skips finished units.")
    _job_args(p, input_metavar="SEGMENTS_DIR_OR_S3",
              input_help="segment Parquet directory, file, glob or s3:// URI (repeatable)")
    p.add_argument("--engine", choices=("llamacpp", "vllm", "openai"), default=None)
    p.add_argument("--model", default=None, help="registry name, local path or HF id "
                   "(default gemma3-270m on llama.cpp)")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible server (engine openai)")
    p.add_argument("--tensor-parallel-size", type=int, default=None, help="vLLM: GPUs per "
                   "engine host (the host reserves them)")
    p.add_argument("--max-dialogues", type=int, default=None, help="only the first N segments "
                   "by id")
    p.add_argument("--target-dialogues", type=int, default=None, help="finished dialogues "
                   "wanted: more segments (id order) are drawn until met")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--num-hosts", type=int, default=None, help="engine hosts (GPUs / replicas)")
    p.add_argument("--config", default=None, help="YAML with SpecificConfig keys (top level or "
                   "under 'specific:')")
    p.set_defaults(func=_run_specific)


def specific_config(args: argparse.Namespace) -> Any:
    """The ``SpecificConfig`` of a ``specific`` command line (file, then flags)."""
    from ultralink.core.errors import config_section
    from ultralink.jobs.specific import SpecificConfig

    values = config_section(args.config, "specific")
    values.update(_cli_values(args, ("seed", "max_dialogues", "target_dialogues", "num_hosts")))
    llm = dict(values.get("llm") or SpecificConfig.model_fields["llm"].default_factory()
               .model_dump(exclude_defaults=True))
    if args.engine is not None and args.engine != llm.get("engine", "llamacpp"):
        # another engine: drop the llama.cpp defaults that do not apply to it
        llm = {"engine": args.engine}  # vLLM hosts hold their tensor-parallel GPUs by default
    llm.update(_cli_values(args, ("model", "base_url", "tensor_parallel_size")))
    values["llm"] = llm
    return SpecificConfig(**values)


def _run_specific(args: argparse.Namespace) -> int:
    from ultralink.jobs.specific import run_specific
    from ultralink.specific.prompts import PromptFileError

    def job() -> None:
        run_specific(args.language, args.input, args.output, specific_config(args),
                     args.ray_address, args.overwrite)

    return run_job("specific", job, (PromptFileError,))


# ------------------------------------------------------------------------------ agnostic


def _agnostic_parser(sub: argparse._SubParsersAction) -> None:
    from ultralink.agnostic.config import OUTPUT_SUBSET

    p = sub.add_parser(
        "agnostic", help="English chat/math/code SFT data → filtered, pruned translations",
        description="Read English SFT data (ShareGPT, OpenAI messages, MetaMathQA, GSM8K, "
                    "Magicoder OSS/Evol, HumanEval; JSON/JSONL/Parquet), pre-drop chat with URLs, "
                    "judge chat against the six culture criteria, prune math/code per language "
                    "(seeded), translate each message with code/LaTeX/numbers protected and every "
                    "translation validated. Writes sharded Parquet + _report.json + "
                    "_manifest.json; a rerun skips finished units.\n\n"
                    "Example: ultralink agnostic --language zh --subset math "
                    "--input data/sample/sft/metamathqa_sample.jsonl --output out/agn/zh/math",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _job_args(p, input_metavar="PATH_OR_GLOB_OR_S3",
              input_help="input file, directory, glob or s3:// URI (repeatable)",
              language_help="target ISO 639-1 code (en = pass through)")
    p.add_argument("--subset", required=True, choices=sorted(OUTPUT_SUBSET))
    p.add_argument("--engine", default=None, help="llamacpp (default) | vllm | openai | "
                   "package.module:Class")
    p.add_argument("--model", default=None, help="registry name, GGUF path or HF id "
                   "(default gemma3-270m)")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible server (engine openai)")
    p.add_argument("--n-threads", type=int, default=None, help="llama.cpp threads per engine")
    p.add_argument("--max-model-len", type=int, default=None)
    p.add_argument("--max-concurrency", type=int, default=None, help="in-flight requests per engine")
    p.add_argument("--tensor-parallel-size", type=int, default=None, help="vLLM: GPUs per "
                   "engine host (the host reserves them)")
    p.add_argument("--num-hosts", type=int, default=None, help="engine hosts (one model each)")
    p.add_argument("--limit", type=int, default=None, help="only the first N records read")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--prune-size", type=int, default=None,
                   help="records per non-English language (default: math 32000, code 16000, chat all)")
    p.add_argument("--prune-mode", choices=["shared", "disjoint"], default=None)
    p.add_argument("--refill-rounds", type=int, default=None, help="rounds at most that "
                   "replace records dropped after pruning with the pool's next-ranked (default 8; "
                   "0: never)")
    p.add_argument("--languages", default=None, help="comma-separated languages sharing the "
                   "English pool (disjoint mode), default zh,ru,fr,es")
    p.add_argument("--granularity", choices=["auto", "line", "paragraph", "message"], default=None)
    p.add_argument("--config", default=None, help="YAML with AgnosticConfig keys (top level or "
                   "under 'agnostic:') and engine keys under 'llm:'")
    p.add_argument("--prompts-dir", default=None, help="directory of the prompt YAML files")
    p.set_defaults(func=_run_agnostic)


def _run_agnostic(args: argparse.Namespace) -> int:
    from ultralink.agnostic.config import AgnosticConfig
    from ultralink.jobs.agnostic import run_agnostic
    from ultralink.core.errors import config_section
    from ultralink.llm.registry import EngineConfig

    def job() -> None:
        loaded = config_section(args.config, None)
        llm = dict(loaded.pop("llm", None) or {})
        values = dict(loaded.get("agnostic", loaded))
        values.update(_cli_values(args, ("limit", "seed", "prune_size", "prune_mode",
                                         "refill_rounds", "granularity", "num_hosts")))
        if args.languages:
            values["languages"] = [x.strip() for x in args.languages.split(",") if x.strip()]
        llm.update(_cli_values(args, ("engine", "model", "base_url", "n_threads",
                                      "max_model_len", "max_concurrency",
                                      "tensor_parallel_size")))
        if llm.get("engine", "llamacpp") == "llamacpp" and "max_concurrency" not in llm:
            llm["max_concurrency"] = 4  # llama.cpp runs one request at a time anyway
        run_agnostic(args.language, args.subset, args.input, args.output,
                     AgnosticConfig(**values), EngineConfig(**llm), args.ray_address,
                     args.overwrite, args.prompts_dir)

    return run_job("agnostic", job)


# --------------------------------------------------------------------------------- build


def _build_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build", help="the whole dataset from one config: prepare → specific → agnostic → "
        "stats + card",
        description="Run every stage for every language from one YAML (BuildConfig): "
                    "Wikipedia segments, language-specific dialogues, filtered/pruned/"
                    "translated agnostic chat, math and code, then stats.json, figures/ and "
                    "the README.md card. A rerun resumes; finished stages are skipped.\n\n"
                    "Example: ultralink build --config sample --output ./out",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="sample", help="YAML with BuildConfig keys, or the "
                   "name of a bundled config: sample (default), full")
    p.add_argument("--output", default=None, metavar="DIR_OR_S3", help="overrides 'output'")
    _ray_args(p)
    p.set_defaults(func=_run_build)


def _run_build(args: argparse.Namespace) -> int:
    from ultralink.build import load_config, run_build

    def job() -> None:
        run_build(load_config(args.config, output=args.output), args.ray_address,
                  args.overwrite)

    return run_job("build", job)


# ------------------------------------------------------------------- stats, export, card


def _stats_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stats", help="Table 1 / Table 2 / Figure 13 statistics of a built dataset",
        description="Count dialogues per language and subset (Table 1), turns and average "
                    "question/answer/turn tokens (Table 2; tiktoken cl100k_base, questions "
                    "without the <document> block) and per-language averages (Figure 13) of an "
                    "`ultralink build` output, streaming its Parquet parts. Prints the tables and "
                    "writes stats.json + figures/token_lengths.png at the dataset root.")
    _subset_args(p)
    p.add_argument("--no-write", action="store_true", help="print only; write nothing")
    p.add_argument("--workers", type=int, default=1, help="processes counting part files (default 1)")
    p.add_argument("--card", action="store_true", help="also write the dataset card README.md")
    p.add_argument("--card-config", default=None, metavar="YAML",
                   help="build config to show in the card (with --card)")
    p.add_argument("--json", action="store_true", help="print stats.json instead of the tables")
    p.set_defaults(func=_run_stats)


def _run_stats(args: argparse.Namespace) -> int:
    import json

    import pyarrow as pa

    from ultralink.dataset.stats import FIGURE_FILE, STATS_FILE, compute_stats, format_tables, write_stats

    try:
        stats = compute_stats(args.output, languages=args.languages, subsets=args.subsets,
                              workers=max(1, args.workers))
    except (OSError, ValueError, pa.ArrowException) as exc:
        print(f"ultralink stats: {exc}", file=sys.stderr)
        return 1
    if not stats["languages"]:
        print(f"ultralink stats: no {{lang}}/{{subset}}/*.parquet under {args.output}", file=sys.stderr)
        return 1
    print(json.dumps(stats, indent=2, ensure_ascii=False) if args.json else format_tables(stats))
    if not args.no_write:
        write_stats(args.output, stats)
        wrote = [STATS_FILE, FIGURE_FILE]
        if args.card:
            from ultralink.dataset.card import CARD_FILE, write_card
            from ultralink.core.errors import config_section

            write_card(args.output, stats, config_section(args.card_config, None) or None)
            wrote.append(CARD_FILE)
        print(f"wrote {', '.join(wrote)} under {args.output}", file=sys.stderr)
    return 0


def _export_parser(sub: argparse._SubParsersAction) -> None:
    from ultralink.dataset.export import FORMATS

    p = sub.add_parser(
        "export", help="a built dataset → JSONL (UltraLink release / ShareGPT / OpenAI format)",
        description="Stream an `ultralink build` output and write one JSONL file per language × "
                    "subset, {dest}/{lang}_{subset}.jsonl, records sorted by record id. "
                    "ultralink: {\"id\": \"zh_chat_specific_0\", \"data\": [q, a, ...]} as released "
                    "(running ids; _idmap/ maps them to record ids); sharegpt: {\"id\", "
                    "\"conversations\": [{\"from\", \"value\"}]}; openai: {\"id\", \"messages\"}. "
                    "Each file is written atomically; a summary goes to {dest}/_export.json.")
    _subset_args(p)
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--dest", required=True, metavar="DIR_OR_S3_URI")
    p.add_argument("--no-idmap", action="store_true", help="ultralink format: skip _idmap/ files")
    p.set_defaults(func=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    import pyarrow as pa

    from ultralink.dataset.export import export, format_summary

    try:
        summary = export(args.output, args.dest, args.format, args.languages, args.subsets,
                         idmap=not args.no_idmap)
    except (OSError, ValueError, pa.ArrowException) as exc:
        print(f"ultralink export: {exc}", file=sys.stderr)
        return 1
    if not summary["counts"]:
        print(f"ultralink export: no {{lang}}/{{subset}}/*.parquet under {args.output}", file=sys.stderr)
        return 1
    print(format_summary(summary))
    return 0


# ------------------------------------------------------------- validate, decontaminate


def _validate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate", help="check generated dialogues / translations with the stages' validators",
        description="Run the same validators the dialogue and translation stages use on any "
                    "data: JSONL records of kind 'dialogue' or 'translation', or a built "
                    "dataset folder. Writes one {id, ok, reasons} line per record and prints a "
                    "per-reason summary.")
    p.add_argument("--input", action="append", required=True, metavar="JSONL_OR_DATASET",
                   help="JSONL file or built dataset folder (repeatable)")
    p.add_argument("--output", required=True, metavar="VERDICTS.jsonl")
    p.add_argument("--prompts-dir", default=None, help="directory of <lang>.yaml")
    p.add_argument("--fasttext-model", default=None, help="lid.176 path (default: shipped .ftz)")
    p.set_defaults(func=_run_validate)


def _run_validate(args: argparse.Namespace) -> int:
    from ultralink.jobs.validate import Gate, validate

    def job() -> None:
        gate = Gate(prompts_dir=args.prompts_dir, fasttext_model=args.fasttext_model)
        print(validate(args.input, args.output, gate).table())

    return run_job("validate", job, (FileNotFoundError,))


def _decontaminate_parser(sub: argparse._SubParsersAction) -> None:
    from ultralink.jobs.decontaminate import CHAR_N, WORD_N

    p = sub.add_parser(
        "decontaminate", help="drop records sharing 13-grams with evaluation sets",
        description="Remove every record of a dataset in our layout that shares a 13-word "
                    "n-gram (13 characters for Chinese/Japanese/Korean/Thai text) with a row of "
                    "an evaluation set (JSONL, TSV or Parquet; local or s3://). Writes the "
                    "cleaned dataset in the same layout to --output, with "
                    "_decontamination.json listing each removed id, the set and the text it "
                    "matched; a built dataset's stats.json and README.md are refreshed.\n\n"
                    "Example: ultralink decontaminate --dataset out/ --against gsm8k_test.jsonl "
                    "--against mgsm_zh.tsv --output out-clean/",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True, metavar="DIR_OR_S3_URI")
    p.add_argument("--against", action="append", required=True, metavar="FILE",
                   help="evaluation set: .jsonl, .tsv or .parquet file, glob or s3:// URI "
                   "(repeatable); the set's name is the file name without extensions")
    p.add_argument("--output", required=True, metavar="DIR_OR_S3_URI",
                   help="where the cleaned dataset goes (may equal --dataset: in place)")
    p.add_argument("--ngram", type=int, default=WORD_N, help="n-gram size in words")
    p.add_argument("--char-ngram", type=int, default=CHAR_N, help="n-gram size in characters "
                   "for CJK/Thai text")
    p.add_argument("--ray-address", default=None, help="join this Ray cluster (default: "
                   "RAY_ADDRESS or a local Ray)")
    p.add_argument("--overwrite", action="store_true", help="replace shards already in --output")
    p.set_defaults(func=_run_decontaminate)


def _run_decontaminate(args: argparse.Namespace) -> int:
    from ultralink.jobs.decontaminate import REPORT_FILE, run_decontaminate
    from ultralink.core.fs import resolve

    def job() -> None:
        r = run_decontaminate(args.dataset, args.against, args.output, args.ngram,
                              args.char_ngram, args.ray_address, args.overwrite)
        print(f"ultralink decontaminate: {r['removed']} of {r['checked']} records removed "
              f"({', '.join(f'{k}={v}' for k, v in r['removed_by_set'].items())}); report "
              f"{resolve(args.output).join(REPORT_FILE).uri}")

    return run_job("decontaminate", job)


# ---------------------------------------------------------------------------------- main

SUBCOMMANDS = (_prepare_parser, _specific_parser, _agnostic_parser, _build_parser,
               _stats_parser, _export_parser, _validate_parser, _decontaminate_parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ultralink", description="Multilingual SFT data the UltraLink way, on Ray.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from ultralink.core.errors import install_log_redaction, redact

    args = build_parser().parse_args(argv)
    # every log line (ours, botocore's headers under -v) and any traceback is redacted
    install_log_redaction("%(asctime)s %(levelname)s %(name)s: %(message)s",
                          logging.DEBUG if args.verbose else logging.INFO)
    sys.excepthook = lambda t, v, tb: sys.stderr.write(
        redact("".join(__import__("traceback").format_exception(t, v, tb))))
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
