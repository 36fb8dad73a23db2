"""The dataset subcommands: ``stats``, ``export``, ``validate`` and ``decontaminate``."""

from __future__ import annotations

import argparse
import sys

from ultralink.cli.common import ray_args, run_dataset_command, run_job, subset_args


def stats_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stats", help="Table 1 / Table 2 / Figure 13 statistics of a built dataset",
        description="Count dialogues per language and subset (Table 1), turns and average "
                    "question/answer/turn tokens (Table 2; tiktoken cl100k_base, questions "
                    "without the <document> block) and per-language averages (Figure 13) of an "
                    "`ultralink build` output, streaming its Parquet parts. Prints the tables and "
                    "writes stats.json + figures/token_lengths.png at the dataset root.")
    subset_args(p)
    p.add_argument("--no-write", action="store_true", help="print only; write nothing")
    p.add_argument("--workers", type=int, default=1, help="processes counting part files (default 1)")
    p.add_argument("--card", action="store_true", help="also write the dataset card README.md")
    p.add_argument("--card-config", default=None, metavar="YAML",
                   help="build config to show in the card (with --card)")
    p.add_argument("--json", action="store_true", help="print stats.json instead of the tables")
    p.set_defaults(func=_run_stats)


def _run_stats(args: argparse.Namespace) -> int:
    import json

    from ultralink.dataset.stats import (
        FIGURE_FILE,
        STATS_FILE,
        compute_stats,
        format_tables,
        write_stats,
    )

    stats = run_dataset_command("stats", args.output, lambda: _with_languages(compute_stats(
        args.output, languages=args.languages, subsets=args.subsets,
        workers=max(1, args.workers))))
    if stats is None:
        return 1
    print(json.dumps(stats, indent=2, ensure_ascii=False) if args.json else format_tables(stats))
    if not args.no_write:
        write_stats(args.output, stats)
        wrote = [STATS_FILE, FIGURE_FILE]
        if args.card:
            from ultralink.core.errors import config_section
            from ultralink.dataset.card import CARD_FILE, write_card

            write_card(args.output, stats, config_section(args.card_config, None) or None)
            wrote.append(CARD_FILE)
        print(f"wrote {', '.join(wrote)} under {args.output}", file=sys.stderr)
    return 0


def _with_languages(stats: dict) -> dict | None:
    """Stats that counted any language, else None (nothing in the layout)."""
    return stats if stats["languages"] else None


def export_parser(sub: argparse._SubParsersAction) -> None:
    from ultralink.dataset.export import FORMATS

    p = sub.add_parser(
        "export", help="a built dataset → JSONL (UltraLink release / ShareGPT / OpenAI format)",
        description="Stream an `ultralink build` output and write one JSONL file per language × "
                    "subset, {dest}/{lang}_{subset}.jsonl, records sorted by record id. "
                    "ultralink: {\"id\": \"zh_chat_specific_0\", \"data\": [q, a, ...]} as released "
                    "(running ids; _idmap/ maps them to record ids); sharegpt: {\"id\", "
                    "\"conversations\": [{\"from\", \"value\"}]}; openai: {\"id\", \"messages\"}. "
                    "Each file is written atomically; a summary goes to {dest}/_export.json.")
    subset_args(p)
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--dest", required=True, metavar="DIR_OR_S3_URI")
    p.add_argument("--no-idmap", action="store_true", help="ultralink format: skip _idmap/ files")
    p.set_defaults(func=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    from ultralink.dataset.export import export, format_summary

    summary = run_dataset_command("export", args.output, lambda: _with_counts(export(
        args.output, args.dest, args.format, args.languages, args.subsets,
        idmap=not args.no_idmap)))
    if summary is None:
        return 1
    print(format_summary(summary))
    return 0


def _with_counts(summary: dict) -> dict | None:
    """An export summary that wrote any file, else None (nothing in the layout)."""
    return summary if summary["counts"] else None


# ------------------------------------------------------------- validate, decontaminate


def validate_parser(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument("--document-hidden", action="store_true",
                   help="the dialogues' first message does not carry the passage (a build "
                        "with document_in_first_message: false): a reference to it is leakage")
    p.set_defaults(func=_run_validate)


def _run_validate(args: argparse.Namespace) -> int:
    from ultralink.jobs.validate import Gate, validate

    def job() -> None:
        from ultralink.specific.dialogue import DialogueConfig

        dialogue = DialogueConfig(document_in_first_message=not args.document_hidden)
        gate = Gate(dialogue, prompts_dir=args.prompts_dir, fasttext_model=args.fasttext_model)
        print(validate(args.input, args.output, gate).table())

    return run_job("validate", job, (FileNotFoundError,), uses_ray=False)


def decontaminate_parser(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument("--against", action="append", default=[], metavar="FILE",
                   help="evaluation set: .jsonl, .tsv or .parquet file, glob or s3:// URI "
                   "(repeatable); the set's name is the file name without extensions")
    p.add_argument("--evals-dir", metavar="DIR_OR_S3_URI", help="also the standard sets "
                   "(gsm8k_test, math_test, mgsm, humaneval) found by name in this folder; "
                   "the report names those not found")
    p.add_argument("--output", required=True, metavar="DIR_OR_S3_URI",
                   help="where the cleaned dataset goes (may equal --dataset: in place)")
    p.add_argument("--ngram", type=int, default=WORD_N, help="n-gram size in words")
    p.add_argument("--char-ngram", type=int, default=CHAR_N, help="n-gram size in characters "
                   "for CJK/Thai text")
    ray_args(p, overwrite_help="replace shards already in --output")
    p.set_defaults(func=_run_decontaminate)


def _run_decontaminate(args: argparse.Namespace) -> int:
    from ultralink.core.fs import resolve
    from ultralink.jobs.decontaminate import REPORT_FILE, run_decontaminate

    from ultralink.core.errors import UsageError
    from ultralink.jobs.decontaminate import DecontaminateConfig

    def job() -> None:
        if not args.against and not args.evals_dir:
            raise UsageError("name the evaluation sets: --against FILE or --evals-dir DIR")
        cfg = DecontaminateConfig(against=args.against, evals_dir=args.evals_dir,
                                  word_n=args.ngram, char_n=args.char_ngram, at_source=False,
                                  **({} if args.evals_dir else {"standard": []}))
        r = run_decontaminate(args.dataset, None, args.output, ray_address=args.ray_address,
                              overwrite=args.overwrite, config=cfg)
        print(f"ultralink decontaminate: {r['removed']} of {r['checked']} records removed "
              f"({', '.join(f'{k}={v}' for k, v in r['removed_by_set'].items())}); report "
              f"{resolve(args.output).join(REPORT_FILE).uri}")

    return run_job("decontaminate", job)


# ---------------------------------------------------------------------------------- main
