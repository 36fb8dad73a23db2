"""The job subcommands: ``prepare``, ``specific``, ``agnostic`` and ``build``."""

from __future__ import annotations

import argparse
from typing import Any

from ultralink.cli.common import cli_values, engine_args, job_args, ray_args, run_job


def prepare_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare", help="Wikipedia dumps → clean, language-checked 1K–2K-token segments",
        description="Read MediaWiki XML dumps (plain/.bz2/.gz/.xz, multistream split across "
                    "workers), wikiextractor output, or Parquet/JSONL (id, title, text), clean "
                    "wikitext, keep documents in the target language (fastText lid.176) of "
                    "1K–10K tokens, convert Chinese to simplified (OpenCC t2s) and cut them into "
                    "sentence-safe segments. Writes sharded Parquet + _report.json + _manifest.json; "
                    "a rerun skips finished units.")
    job_args(p, input_metavar="PATH_OR_GLOB_OR_S3_URI",
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
    from ultralink.jobs.prepare.config import PrepareConfig
    from ultralink.core.errors import config_section
    from ultralink.jobs.prepare import run_prepare

    def job() -> None:
        values = config_section(args.config, "prepare")
        values.update(cli_values(args, ("min_doc_tokens", "max_doc_tokens",
                                         "min_segment_tokens", "max_segment_tokens",
                                         "langid_threshold", "fasttext_model", "encoding")))
        if args.unit_mb is not None:
            values["unit_bytes"] = args.unit_mb * 1024 * 1024
        run_prepare(args.language, args.input, args.output, PrepareConfig(**values),
                    args.ray_address, args.overwrite)

    return run_job("prepare", job)


# ------------------------------------------------------------------------------ specific


def specific_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "specific", help="segments → grounded multi-turn dialogues (language-specific chat)",
        description="Generate UltraLink language-specific dialogues from `ultralink prepare` "
                    "segments: initial question and answer, then in-depth/expansive follow-ups "
                    "until a growing stop probability ends the dialogue. Every message is "
                    "validated (language, leakage, echo, question form, length, truncation) "
                    "and retried with a new seed. Writes sharded Parquet in the conversation "
                    "schema + _report.json; a rerun skips finished units.")
    job_args(p, input_metavar="SEGMENTS_DIR_OR_S3",
              input_help="segment Parquet directory, file, glob or s3:// URI (repeatable)")
    engine_args(p, engine_help="llamacpp (default) | vllm | openai",
                model_help="registry name, local path or HF id (default gemma3-270m on "
                "llama.cpp)")
    p.add_argument("--max-dialogues", type=int, default=None, help="only the first N segments "
                   "by id")
    p.add_argument("--target-dialogues", type=int, default=None, help="finished dialogues "
                   "wanted: more segments (id order) are drawn until met")
    p.add_argument("--config", default=None, help="YAML with SpecificConfig keys (top level or "
                   "under 'specific:')")
    p.set_defaults(func=_run_specific)


def specific_config(args: argparse.Namespace) -> Any:
    """The ``SpecificConfig`` of a ``specific`` command line (file, then flags)."""
    from ultralink.core.errors import config_section
    from ultralink.jobs.specific import SpecificConfig

    values = config_section(args.config, "specific")
    values.update(cli_values(args, ("seed", "max_dialogues", "target_dialogues", "num_hosts")))
    llm = dict(values.get("llm") or SpecificConfig.model_fields["llm"].default_factory()
               .model_dump(exclude_defaults=True))
    if args.engine is not None and args.engine != llm.get("engine", "llamacpp"):
        # another engine: drop the llama.cpp defaults that do not apply to it
        llm = {"engine": args.engine}  # vLLM hosts hold their tensor-parallel GPUs by default
    llm.update(cli_values(args, ("model", "base_url", "tensor_parallel_size")))
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


def agnostic_parser(sub: argparse._SubParsersAction) -> None:
    from ultralink.jobs.agnostic.config import OUTPUT_SUBSET

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
    job_args(p, input_metavar="PATH_OR_GLOB_OR_S3",
              input_help="input file, directory, glob or s3:// URI (repeatable)",
              language_help="target ISO 639-1 code (en = pass through)")
    p.add_argument("--subset", required=True, choices=sorted(OUTPUT_SUBSET))
    engine_args(p, engine_help="llamacpp (default) | vllm | openai | package.module:Class",
                model_help="registry name, GGUF path or HF id (default gemma3-270m)")
    p.add_argument("--n-threads", type=int, default=None, help="llama.cpp threads per engine")
    p.add_argument("--max-model-len", type=int, default=None)
    p.add_argument("--max-concurrency", type=int, default=None, help="in-flight requests per engine")
    p.add_argument("--limit", type=int, default=None, help="only the first N records read")
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
    from ultralink.jobs.agnostic.config import AgnosticConfig
    from ultralink.core.errors import config_section
    from ultralink.jobs.agnostic import run_agnostic
    from ultralink.llm.registry import EngineConfig

    def job() -> None:
        loaded = config_section(args.config, None)
        llm = dict(loaded.pop("llm", None) or {})
        values = dict(loaded.get("agnostic", loaded))
        values.update(cli_values(args, ("limit", "seed", "prune_size", "prune_mode",
                                         "refill_rounds", "granularity", "num_hosts")))
        if args.languages:
            values["languages"] = [x.strip() for x in args.languages.split(",") if x.strip()]
        llm.update(cli_values(args, ("engine", "model", "base_url", "n_threads",
                                      "max_model_len", "max_concurrency",
                                      "tensor_parallel_size")))
        if llm.get("engine", "llamacpp") == "llamacpp" and "max_concurrency" not in llm:
            llm["max_concurrency"] = 4  # llama.cpp runs one request at a time anyway
        run_agnostic(args.language, args.subset, args.input, args.output,
                     AgnosticConfig(**values), EngineConfig(**llm), args.ray_address,
                     args.overwrite, args.prompts_dir)

    return run_job("agnostic", job)


# --------------------------------------------------------------------------------- build


def build_subparser(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument("--work", default=None, metavar="DIR_OR_S3", help="overrides 'work' (the "
                   "work files; default: OUTPUT_work beside the output)")
    ray_args(p)
    p.set_defaults(func=_run_build)


def _run_build(args: argparse.Namespace) -> int:
    from ultralink.build import load_config, run_build

    def job() -> None:
        run_build(load_config(args.config, output=args.output, work=args.work), args.ray_address,
                  args.overwrite)

    return run_job("build", job)


# ------------------------------------------------------------------- stats, export, card


