"""Decontamination settings, typed: the evaluation sets (explicit, and the standard ones looked
up by name), the n-gram sizes and the fuzzy nets' thresholds."""

from __future__ import annotations

from pydantic import Field

from ultralink.core.config import RUN_CONTROL, Strict
from ultralink.jobs.decontaminate.sets import STANDARD_SETS, ResolvedSets, resolve_sets

REPORT_FILE = "_decontamination.json"
WORD_N = 13
CHAR_N = 13
MIN_NUMBERS = 3
MIN_CONTAINMENT = 0.5


class DecontaminateConfig(Strict):
    """What to clean against and how long a shared n-gram must be to count."""

    against: list[str] = Field(default_factory=list, description="evaluation sets: .jsonl, "
                               ".tsv or .parquet files, folders, globs or s3:// URIs; each "
                               "must exist")
    standard: list[str] = Field(default_factory=lambda: list(STANDARD_SETS), description=
                                "evaluation sets looked up by name under evals_dir "
                                "(<name>.jsonl|.tsv|.parquet, <name>/, <name>_*); one not "
                                "found is a warning and the card names it as not checked")
    evals_dir: str | None = Field(None, description="folder or s3:// prefix holding the "
                                  "standard sets")
    fetch_missing: bool = Field(False, description="fetch a standard set not under "
                                "evals_dir from the Hugging Face Hub into it (needs internet "
                                "and the datasets package; a failure is said, not fatal)",
                                json_schema_extra=RUN_CONTROL)
    at_source: bool = Field(True, description="also check the English SFT sources before "
                            "any LLM call: a contaminated record is dropped in every language")
    word_n: int = Field(WORD_N, gt=0, description="n-gram size in words")
    char_n: int = Field(CHAR_N, gt=0, description="n-gram size in characters for CJK/Thai "
                        "text")
    min_numbers: int = Field(MIN_NUMBERS, ge=2, description="distinct numbers (question and "
                             "final answer) a math problem needs for its numbers signature")
    min_containment: float = Field(MIN_CONTAINMENT, gt=0, le=1, description="share of an "
                                   "evaluation text's shingles one message must hold to match")

    def resolve(self, *, warn: bool = True, fetch: bool = False) -> ResolvedSets:
        """The sets to check against now (a standard set added later is found then); with
        ``fetch`` and ``fetch_missing``, missing standard sets are fetched first."""
        return resolve_sets(self.against, self.standard, self.evals_dir, warn=warn,
                            fetch=fetch and self.fetch_missing)
