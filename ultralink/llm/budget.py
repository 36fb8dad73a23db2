"""Token budget: a request that cannot fit the context fails fast, never crashes the engine."""

from __future__ import annotations

from ultralink.llm.types import RequestError


def check_budget(prompt_tokens: int, max_tokens: int, max_model_len: int) -> None:
    """Raise a non-retryable RequestError unless prompt + max_tokens fits the context.

    Retrying cannot help an over-long request; the caller must cut history or end the dialogue.
    ``max_model_len <= 0`` means unknown: only ``max_tokens`` itself is checked.
    """
    if max_tokens < 1:
        raise RequestError("bad_request", f"max_tokens must be >= 1, got {max_tokens}",
                           retryable=False)
    if max_model_len > 0 and prompt_tokens + max_tokens > max_model_len:
        raise RequestError(
            "context_overflow",
            f"prompt {prompt_tokens} + max_tokens {max_tokens} > context {max_model_len}",
            retryable=False,
        )
