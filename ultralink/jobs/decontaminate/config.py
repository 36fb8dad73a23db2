"""Decontamination settings, typed: the evaluation sets, the n-gram sizes and the fuzzy nets'
thresholds."""

from __future__ import annotations

from pydantic import Field

from ultralink.core.config import Strict

REPORT_FILE = "_decontamination.json"
WORD_N = 13
CHAR_N = 13
MIN_NUMBERS = 3
MIN_CONTAINMENT = 0.5


class DecontaminateConfig(Strict):
    """What to clean against and how long a shared n-gram must be to count."""

    against: list[str] = Field(default_factory=list, description="evaluation sets: .jsonl, "
                               ".tsv or .parquet files, globs or s3:// URIs")
    word_n: int = Field(WORD_N, gt=0, description="n-gram size in words")
    char_n: int = Field(CHAR_N, gt=0, description="n-gram size in characters for CJK/Thai "
                        "text")
    min_numbers: int = Field(MIN_NUMBERS, ge=2, description="distinct numbers (question and "
                             "final answer) a math problem needs for its numbers signature")
    min_containment: float = Field(MIN_CONTAINMENT, gt=0, le=1, description="share of an "
                                   "evaluation text's shingles one message must hold to match")
