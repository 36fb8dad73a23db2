"""Build the engine a config names; engine modules (and their heavy deps) load only when chosen."""

from __future__ import annotations

import importlib

from ultralink.llm.registry import EngineConfig
from ultralink.llm.types import ChatEngine

__all__ = ["EngineConfig", "build_engine", "engine_class"]

_BUILTIN = {
    "llamacpp": ("ultralink.llm.llamacpp_engine", "LlamaCppEngine"),
    "vllm": ("ultralink.llm.vllm_engine", "VLLMEngine"),
    "openai": ("ultralink.llm.openai_engine", "OpenAIEngine"),
}


def engine_class(config: EngineConfig) -> type:
    """The class for ``config.engine``: a built-in name or ``package.module:ClassName``."""
    if config.engine in _BUILTIN:
        module_name, class_name = _BUILTIN[config.engine]
    else:
        module_name, _, class_name = config.engine.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"engine {config.engine!r}: cannot import {module_name}: {exc}") from exc
    try:
        cls = getattr(module, class_name)
    except AttributeError:
        raise ImportError(f"engine {config.engine!r}: {module_name} has no {class_name}") from None
    if not isinstance(cls, type):
        raise TypeError(f"engine {config.engine!r}: {class_name} is not a class")
    return cls


def build_engine(config: EngineConfig) -> ChatEngine:
    """Load the model: call once per actor (in setup), never in a picklable constructor."""
    engine = engine_class(config)(config)
    if not isinstance(engine, ChatEngine):
        raise TypeError(f"engine {config.engine!r} built {type(engine).__name__}, which lacks "
                        "the ChatEngine methods (generate, count_tokens, shutdown)")
    return engine
