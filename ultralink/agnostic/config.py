"""Typed settings of ``ultralink agnostic``: filter, translator, pruning and work units."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ultralink.core.config import Strict
from ultralink.llm.request_cache import RequestCacheConfig
from ultralink.pipeline.error_guard import ErrorLimits


# Output ``subset`` names (DESIGN.md data contracts) for the CLI's subset choices.
OUTPUT_SUBSET = {"chat": "chat_agnostic", "math": "math", "code": "code"}

# Paper Table 1: per non-English language 32K math and 16K code examples; chat is not pruned.
DEFAULT_PRUNE_SIZE = {"chat": None, "math": 32_000, "code": 16_000}


class AgnosticConfig(Strict):
    """Everything that changes the output of an agnostic run (hashed into the manifest)."""

    # -- input ----------------------------------------------------------------------------
    tool_roles: Literal["skip", "strip"] = Field(
        "skip", description="conversations with tool/function turns: 'skip' drops them "
        "(reason tool_roles), 'strip' removes only those turns")
    unit_records: int = Field(500, gt=0, description="input records per work unit (the atom "
                              "of output and resume)")
    # -- heuristic pre-filter (chat; the reference's sift_sharegpt.py) ----------------------
    prefilter: bool = Field(True, description="drop chat with URLs, x1/y1 variables or too "
                            "long for the judge before any LLM call")
    max_conversation_tokens: int = Field(
        3500, gt=0, description="chat longer than this (cl100k tokens) is dropped as too_long "
        "(the reference dropped judge prompts of >= 4070 tokens)")
    # -- criteria filter (chat) -------------------------------------------------------------
    judge: bool = Field(True, description="run the six-criteria LLM judge on chat")
    judge_attempts: int = Field(3, ge=1, description="tries for a parseable verdict")
    judge_max_tokens: int = Field(80, gt=0)
    judge_message_chars: int | None = Field(None, gt=0, description="each message is cut to "
                                            "this many characters in the judge prompt; None: "
                                            "never (the judge sees every admitted message)")
    judge_total_chars: int | None = Field(None, gt=0, description="the conversation shown to "
                                          "the judge is cut to this many characters; None: "
                                          "never (max_conversation_tokens bounds it)")
    # -- translator -------------------------------------------------------------------------
    prompt_style: Literal["auto", "completion", "chat"] = Field(
        "auto", description="auto: the model registry's prompt_format (base models get "
        "few-shot 'English: …/<Language>: …' completion prompts)")
    granularity: Literal["auto", "line", "paragraph", "message"] = Field(
        "auto", description="what one translation request holds; auto: 'line' for "
        "completion (base) models, 'message' for chat models")
    principles_in_completion: bool = Field(
        True, description="put the target-language system text and principles at the top of "
        "completion prompts too")
    translate_attempts: int = Field(3, ge=1, description="tries per piece (first greedy, then "
                                    "sampled with a new seed)")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="first attempt")
    retry_temperature: float = Field(0.7, ge=0.0, le=2.0, description="later attempts")
    max_new_tokens: int = Field(2048, gt=0, description="cap on one translation request")
    langid_threshold: float = Field(0.5, ge=0.0, le=1.0, description="fastText probability "
                                    "of the target language a translation must reach")
    langid_min_chars: int = Field(80, ge=0, description="a piece with less prose than this "
                                  "is not language-checked on its own (fastText misreads short "
                                  "lines full of names and numbers); the message still is")
    langid_message_min_chars: int = Field(20, ge=0, description="a whole message with less "
                                          "prose than this is not language-checked")
    message_attempts: int = Field(2, ge=1, description="tries per message when the joined "
                                  "message fails its checks (pieces retried on their own first)")
    ratio_min_chars: int = Field(16, ge=0, description="prose shorter than this is not "
                                 "length-ratio-checked")
    ratio_slack: float = Field(2.5, gt=1.0, description="a translation may be this many times "
                               "shorter or longer than the language's expected length ratio")
    fasttext_model: str | None = Field(None, description="lid.176 path; default: the bundled "
                                       ".ftz")
    translate_system: bool = Field(True, description="translate system turns too")
    # -- pruning ----------------------------------------------------------------------------
    prune_size: int | None = Field(None, ge=0, description="records per non-English language; "
                                   "None: the subset's default (32K math, 16K code, chat all)")
    prune_mode: Literal["shared", "disjoint"] = "shared"
    refill_rounds: int = Field(8, ge=0, description="rounds at most that replace records "
                               "dropped after pruning (failed translations, criteria) with the "
                               "next-ranked records of the pool, until prune_size is met; 0: "
                               "never (not hashed: more rounds only extend an output)")
    languages: list[str] = Field(default_factory=lambda: ["zh", "ru", "fr", "es"],
                                 description="the languages sharing the English pool "
                                 "(disjoint mode slices the ranking among them)")
    seed: int = 0
    limit: int | None = Field(None, gt=0, description="only the first N usable records of "
                              "the input (after reading, before pruning)")
    # -- job --------------------------------------------------------------------------------
    batch_size: int | None = Field(None, gt=0, description="rows per LLM stage batch; default: "
                                   "sized from the hosts' capacity (llm_stage.stage_sizing)")
    stage_concurrency: int = Field(2, gt=0, description="LLM stage actors (all started at once)")
    num_hosts: int = Field(1, gt=0, description="engine hosts (one model each)")
    error_limits: ErrorLimits = Field(default_factory=ErrorLimits, description="when rows "
                                      "failing with errors stop the job (not hashed)")
    request_cache: RequestCacheConfig = Field(default_factory=RequestCacheConfig,
                                              description="completed requests kept beside the "
                                              "output for a rerun (not hashed)")

    @model_validator(mode="after")
    def _check(self) -> AgnosticConfig:
        if self.prune_mode == "disjoint" and not [lang for lang in self.languages if lang != "en"]:
            raise ValueError("prune_mode 'disjoint' needs the non-English languages in 'languages'")
        return self

    def identity(self) -> dict[str, object]:
        """The settings hashed into the manifest: all but the run controls (error limits,
        request cache, refill rounds)."""
        return self.model_dump(exclude={"error_limits", "request_cache", "refill_rounds"})

    def prune_size_for(self, subset: str) -> int | None:
        return self.prune_size if self.prune_size is not None else DEFAULT_PRUNE_SIZE[subset]
