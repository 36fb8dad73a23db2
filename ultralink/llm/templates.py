"""One place that turns a ChatRequest into what an engine consumes (prompt or messages).

Completion-format (base) models get one prompt rendered with the registry's PromptTemplate;
chat-format models get the messages as OpenAI-style dicts and the engine (or server) applies
the model's chat template. A raw ``prompt`` request is sent as-is in both cases.
"""

from __future__ import annotations

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
