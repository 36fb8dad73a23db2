"""One place that turns a ChatRequest into what an engine consumes (prompt or messages).

Completion-format (base) models get one prompt rendered with the registry's PromptTemplate;
chat-format models get the messages as OpenAI-style dicts and the engine (or server) applies
the model's chat template. A raw ``prompt`` request is sent as-is in both cases.

Message content is never turned into control tokens: :func:`splice_chat_tokens` renders the
chat template around placeholders, tokenizes the template's own text with special tokens on
and every message's content with them off, and splices the ids, so ``<|im_end|>`` or
``<end_of_turn>`` written inside a document stays text (engines that tokenize themselves use
it; an OpenAI-compatible server tokenizes on its side).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ultralink.llm.registry import ModelSpec, PromptTemplate
from ultralink.llm.types import ChatRequest, Message


@dataclass(slots=True, frozen=True)
class RenderedRequest:
    """Exactly one of ``prompt`` / ``messages``, plus the merged stop strings."""

    prompt: str | None
    messages: list[dict[str, str]] | None
    stop: list[str]


def render_messages(messages: list[Message], template: PromptTemplate) -> str:
    """Render a conversation as one completion prompt ending with the generation prefix.

    Content is inserted literally: the template's only placeholder is ``{content}``.
    """
    fmt = {"system": template.system, "user": template.user, "assistant": template.assistant}
    parts = [fmt[m.role].replace("{content}", m.content) for m in messages]
    return "".join(parts) + template.generation_prefix


def merge_stop(*stop_lists: list[str]) -> list[str]:
    """Request stops first, then the model's defaults; duplicates and empties dropped."""
    out: list[str] = []
    for stops in stop_lists:
        for s in stops:
            if s and s not in out:
                out.append(s)
    return out


def render_request(request: ChatRequest, spec: ModelSpec) -> RenderedRequest:
    """What to send for ``request`` to a model described by ``spec``."""
    stop = merge_stop(request.sampling.stop, spec.stop)
    if request.prompt is not None:
        return RenderedRequest(prompt=request.prompt, messages=None, stop=stop)
    messages = request.messages or []
    if spec.prompt_format == "completion":
        return RenderedRequest(prompt=render_messages(messages, spec.template or PromptTemplate()),
                               messages=None, stop=stop)
    return RenderedRequest(prompt=None, stop=stop,
                           messages=[{"role": m.role, "content": m.content} for m in messages])


# Private-use code points: no chat template or tokenizer treats them specially.
_SLOT = "\ue000{}\ue001"
_SLOT_RE = re.compile("\ue000(\\d+)\ue001")


def splice_chat_tokens(messages: list[dict[str, str]],
                       render: Callable[[list[dict[str, str]]], str],
                       encode_template: Callable[[str, bool], list[int]],
                       encode_content: Callable[[str], list[int]]) -> list[int]:
    """Prompt ids of a chat request with every message's content encoded as plain text.

    Args:
        render: the chat template (messages -> prompt text, generation prompt included).
        encode_template: ``(template text, is_first_piece) -> ids`` with special tokens parsed
            (``is_first_piece``: where a BOS the template does not write may be added).
        encode_content: ``content -> ids`` with special tokens NOT parsed.

    A template that rewrites content (Gemma's ``| trim``) is followed: the rendering of the
    real messages decides whether contents go in as given or stripped.
    """
    slotted = [{**m, "content": _SLOT.format(i)} for i, m in enumerate(messages)]
    text = render(slotted)
    parts = _SLOT_RE.split(text)
    contents = [m["content"] for m in messages]
    real = render(messages)
    if _join(parts, contents) != real:
        stripped = [c.strip() for c in contents]
        if _join(parts, stripped) == real:
            contents = stripped
    ids: list[int] = []
    for j, part in enumerate(parts):
        if j % 2 == 0:
            if part or j == 0:
                ids += encode_template(part, j == 0)
        elif contents[int(part)]:
            ids += encode_content(contents[int(part)])
    return ids


def _join(parts: list[str], contents: list[str]) -> str:
    return "".join(p if j % 2 == 0 else contents[int(p)] for j, p in enumerate(parts))
