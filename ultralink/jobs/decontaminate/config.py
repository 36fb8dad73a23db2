"""Decontamination settings, typed: the evaluation sets and the n-gram sizes."""

from __future__ import annotations

from pydantic import Field

from ultralink.core.config import Strict

REPORT_FILE = "_decontamination.json"
WORD_N = 13
CHAR_N = 13


class DecontaminateConfig(Strict):
    """What to clean against and how long a shared n-gram must be to count."""

    against: list[str] = Field(default_factory=list, description="evaluation sets: .jsonl, "
                               ".tsv or .parquet files, globs or s3:// URIs")
    word_n: int = Field(WORD_N, gt=0, description="n-gram size in words")
    char_n: int = Field(CHAR_N, gt=0, description="n-gram size in characters for CJK/Thai "
                        "text")
