"""Cheap pre-drops before the LLM judge, as the reference ``sift_sharegpt.py`` does.

The reference skips a ShareGPT conversation when its judge prompt matches any of
``http://``, ``https://``, ``www.``, ``.com``, ``x1``, ``y1`` or reaches 4070 tokens. We keep
those rules with counted reasons: ``url`` (the four web patterns), ``math_variables``
(``x1``/``y1`` as standalone tokens: the reference's bare substrings also hit ``0x1F`` or
``max1``) and ``too_long`` (cl100k tokens of the conversation over
``max_conversation_tokens``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ultralink.core.records import Turn

URL_RE = re.compile(r"https?://|www\.|\.com\b", re.IGNORECASE)
VARIABLE_RE = re.compile(r"(?<![\w.])[xy]1(?!\w)")


def prefilter_reason(messages: Sequence[Turn], max_tokens: int, encoding: str = "cl100k_base") -> str:
    """The drop reason for a chat conversation, or "" to keep it for the judge."""
    text = "\n".join(t.content for t in messages)
    if URL_RE.search(text):
        return "url"
    if VARIABLE_RE.search(text):
        return "math_variables"
    from ultralink.text.tokens import get_encoding

    # (fewer characters than max_tokens cannot be too long: skip the tokenizer)
    if len(text) > max_tokens and len(get_encoding(encoding).encode_ordinary(text)) > max_tokens:
        return "too_long"
    return ""
