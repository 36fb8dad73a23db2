"""Typed settings of ``ultralink agnostic``: the judge and translator's
(:class:`~ultralink.jobs.agnostic.config.TranslationConfig`) plus input, pruning and work units."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ultralink.agnostic.config import TranslationConfig
from ultralink.core.config import RUN_CONTROL, identity
from ultralink.jobs.decontaminate.config import DecontaminateConfig
from ultralink.llm.request_cache import RequestCacheConfig
from ultralink.pipeline.error_guard import ErrorLimits
from ultralink.sources.byteio import MAX_RECORD

# Output ``subset`` names (DESIGN.md data contracts) for the CLI's subset choices.
OUTPUT_SUBSET = {"chat": "chat_agnostic", "math": "math", "code": "code"}

# Paper Table 1: per non-English language 32K math and 16K code examples; chat is not pruned.
DEFAULT_PRUNE_SIZE = {"chat": None, "math": 32_000, "code": 16_000}


class AgnosticConfig(TranslationConfig):
    """Everything that changes the output of an agnostic run (hashed into the manifest), and
    the run controls that do not (marked ``RUN_CONTROL``)."""

    # -- input ----------------------------------------------------------------------------
    tool_roles: Literal["skip", "strip"] = Field(
        "skip", description="conversations with tool/function turns: 'skip' drops them "
        "(reason tool_roles), 'strip' removes only those turns")
    max_record_bytes: int = Field(MAX_RECORD, gt=0, description="an input record larger than "
                                  "this is dropped as too_large (the XML readers' cap)")
    unit_records: int = Field(500, gt=0, description="input records per work unit (the atom "
                              "of output and resume)")
    decontaminate: DecontaminateConfig = Field(
        default_factory=DecontaminateConfig, description="evaluation sets the English "
        "records are checked against before any LLM call (at_source): a match is dropped as "
        "contaminated:<set> in every language")
    allow_test_splits: bool = Field(False, description="accept an input file that is an "
                                    "evaluation set by its name or content (refused by "
                                    "default)", json_schema_extra=RUN_CONTROL)
    source_checks: bool = Field(True, description="drop English records that are not "
                                "English or whose assistant refuses or speaks as an AI "
                                "model (reasons not_english, refusal), before any LLM call")
    # -- heuristic pre-filter (chat; the reference's sift_sharegpt.py) ----------------------
    prefilter: bool = Field(True, description="drop chat with URLs, x1/y1 variables or too "
                            "long for the judge before any LLM call")
    max_conversation_tokens: int = Field(
        3500, gt=0, description="chat longer than this (cl100k tokens) is dropped as too_long "
        "(the reference dropped judge prompts of >= 4070 tokens)")
    # -- pruning ----------------------------------------------------------------------------
    prune_size: int | None = Field(None, ge=0, description="records per non-English language; "
                                   "None: the subset's default (32K math, 16K code, chat all)")
    prune_mode: Literal["shared", "disjoint"] = "shared"
    refill_rounds: int = Field(8, ge=0, description="rounds at most that replace records "
                               "dropped after pruning (failed translations, criteria) with the "
                               "next-ranked records of the pool, until prune_size is met; 0: "
                               "never (not hashed: more rounds only extend an output)",
                               json_schema_extra=RUN_CONTROL)
    languages: list[str] = Field(default_factory=lambda: ["zh", "ru", "fr", "es"],
                                 description="the languages sharing the English pool "
                                 "(disjoint mode slices the ranking among them)")
    limit: int | None = Field(None, gt=0, description="only the first N usable records of "
                              "the input (after reading, before pruning)")
    # -- job --------------------------------------------------------------------------------
    batch_size: int | None = Field(None, gt=0, description="rows per LLM stage batch; default: "
                                   "sized from the hosts' capacity (llm_stage.stage_sizing)")
    stage_concurrency: int = Field(2, gt=0, description="LLM stage actors (all started at once)")
    num_hosts: int = Field(1, gt=0, description="engine hosts (one model each)")
    error_limits: ErrorLimits = Field(default_factory=ErrorLimits, description="when rows "
                                      "failing with errors stop the job (not hashed)",
                                      json_schema_extra=RUN_CONTROL)
    request_cache: RequestCacheConfig = Field(default_factory=RequestCacheConfig,
                                              description="completed requests kept beside the "
                                              "output for a rerun (not hashed)",
                                              json_schema_extra=RUN_CONTROL)

    @model_validator(mode="after")
    def _check(self) -> AgnosticConfig:
        if self.prune_mode == "disjoint" and not [lang for lang in self.languages if lang != "en"]:
            raise ValueError("prune_mode 'disjoint' needs the non-English languages in 'languages'")
        return self

    def identity(self) -> dict[str, object]:
        """The settings hashed into the manifest: all but the run controls (the one rule,
        :func:`ultralink.core.config.identity`)."""
        return identity(self)

    def prune_size_for(self, subset: str) -> int | None:
        return self.prune_size if self.prune_size is not None else DEFAULT_PRUNE_SIZE[subset]
