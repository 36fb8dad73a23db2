"""Rendering requests: completion prompts from the registry template, chat passed through."""

from __future__ import annotations

from ultralink.llm.registry import ModelSpec, PromptTemplate, resolve_model
from ultralink.llm.templates import merge_stop, render_messages, render_request
from ultralink.llm.types import ChatRequest, Message, SamplingParams


def test_gemma_transcript() -> None:
    spec = resolve_model("gemma3-270m")
    req = ChatRequest(messages=[Message("system", "Be brief."), Message("user", "Hi"),
                                Message("assistant", "Hello."), Message("user", "Why?")],
                      sampling=SamplingParams(stop=["###"]))
    out = render_request(req, spec)
    assert out.messages is None
    assert out.prompt == "Be brief.\n\nUser: Hi\nAssistant: Hello.\nUser: Why?\nAssistant:"
    assert out.stop == ["###", "\nUser:", "\nAssistant:"]


def test_content_is_literal() -> None:
    """Braces and placeholders inside content are data, not template syntax."""
    tpl = PromptTemplate(user="Q: {content}\n", generation_prefix="A:")
    text = "f'{x}' and {content} and {0}"
    assert render_messages([Message("user", text)], tpl) == f"Q: {text}\nA:"


def test_raw_prompt_and_chat_pass_through() -> None:
    spec = ModelSpec(name="m", source="org/m", prompt_format="chat", stop=["</s>"])
    raw = render_request(ChatRequest(prompt="Translate: x"), spec)
    assert (raw.prompt, raw.messages, raw.stop) == ("Translate: x", None, ["</s>"])
    chat = render_request(ChatRequest(messages=[Message("user", "q")]), spec)
    assert chat.prompt is None and chat.messages == [{"role": "user", "content": "q"}]
    # a raw prompt skips the completion template too
    gemma = resolve_model("gemma3-270m")
    assert render_request(ChatRequest(prompt="abc"), gemma).prompt == "abc"


def test_merge_stop_dedups() -> None:
    assert merge_stop(["a", "", "b"], ["b", "c"]) == ["a", "b", "c"]
