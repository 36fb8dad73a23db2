"""Near-duplicate removal settings, typed (``dedup:`` in the build config)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ultralink.core.config import Strict

Kind = Literal["segments", "questions"]


class DedupConfig(Strict):
    """Near-duplicate removal settings (``dedup:`` in the build config)."""

    segments: bool = Field(True, description="dedup each language's segments before dialogues")
    questions: bool = Field(True, description="dedup each language's final dataset by its "
                            "questions (user turns, <document> block removed), across subsets")
    threshold: float = Field(0.7, gt=0, lt=1, description="estimated Jaccard similarity of "
                             "shingle sets at which two texts are one cluster")
    shingle: int = Field(5, gt=0, description="shingle size in words")
    char_shingle: int = Field(5, gt=0, description="shingle size in characters for "
                              "CJK/Thai text")
    num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations")
