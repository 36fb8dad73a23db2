"""llama.cpp engine: the embedded CPU default (a GGUF, no server, no GPU needed).

llama.cpp is neither thread-safe nor continuously batched, so generation runs on one worker
thread, one request at a time; ``generate`` stays safe to call with hundreds in flight (they
queue). Prompts are tokenized on the caller's thread by a separate vocab-only model, so token
counting and budget checks never wait behind a generation. llama.cpp keeps the last prompt's
KV state, so consecutive requests sharing a prefix (one dialogue's turns) reuse it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ultralink.core.counters import Counters
from ultralink.llm.budget import check_budget
from ultralink.llm.registry import (
    EngineConfig,
    resolve_max_model_len,
    resolve_model,
    resolve_weights,
)
from ultralink.llm.templates import (
    RenderedRequest,
    merge_stop,
    render_request,
    splice_chat_tokens,
)
from ultralink.llm.types import ChatRequest, Completion, EngineDead, RequestError, SamplingParams

if TYPE_CHECKING:
    from llama_cpp import Llama

DEFAULT_N_CTX = 4096  # when neither the config nor the registry knows the context


def _import_llama() -> type[Llama]:
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise ImportError("the llama.cpp engine needs llama-cpp-python: "
                          "pip install 'ultralink[llamacpp]'") from exc
    return Llama


def _cpu_has_amx() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return " amx_int8" in f.read()
    except OSError:
        return False


@contextlib.contextmanager
def weights_in_plain_buffers() -> Any:
    """Load weights without llama.cpp's extra CPU buffer types where the CPU has AMX.

    A wheel built with GGML_NATIVE on an AMX machine puts quantised weights in AMX buffers,
    and ``ggml_backend_amx_mul_mat`` then segfaults on Gemma 3's Q4_K weights (seen with
    llama-cpp-python 0.3.36). ``Llama()`` does not expose ``use_extra_bufts``, so its
    default model params are wrapped while the model loads.
    """
    if not _cpu_has_amx():
        yield
        return
    import llama_cpp.llama as llama_module

    lib = llama_module.llama_cpp
    original = lib.llama_model_default_params

    def plain_params() -> Any:
        params = original()
        if hasattr(params, "use_extra_bufts"):
            params.use_extra_bufts = False
        return params

    lib.llama_model_default_params = plain_params
    try:
        yield
    finally:
        lib.llama_model_default_params = original


class LlamaCppEngine:
    """One GGUF model loaded once; implements ChatEngine."""

    def __init__(self, config: EngineConfig) -> None:
        llama_cls = _import_llama()
        self.config = config
        self._spec = resolve_model(config.model, config.models_yaml)
        path = resolve_weights(self._spec)
        if not Path(path).is_file():
            raise ValueError(f"llama.cpp needs a local .gguf file; model {config.model!r} "
                             f"resolved to {path!r}")
        self.model_name: str = self._spec.name
        self.max_model_len: int = resolve_max_model_len(config, self._spec) or DEFAULT_N_CTX
        self.stats = Counters()
        common: dict[str, Any] = {"model_path": path, "verbose": False}
        self._vocab = llama_cls(**common, vocab_only=True)
        self._vocab_lock = threading.Lock()
        with weights_in_plain_buffers():
            self._llm: Llama = llama_cls(
                **common,
                n_ctx=self.max_model_len,
                n_batch=min(512, self.max_model_len),
                n_threads=config.n_threads,
                n_threads_batch=config.n_threads,
                n_gpu_layers=-1 if config.gpus_per_host > 0 else 0,
                seed=config.seed if config.seed is not None else 0xFFFFFFFF,
            )
        self._formatter = self._chat_formatter() if self._spec.prompt_format == "chat" else None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llamacpp")
        self._grammars: dict[str, Any] = {}
        self._closed = False

    def _chat_formatter(self) -> Any:
        """The Jinja chat template: config override, registry override, else the GGUF's own."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = (self.config.chat_template or self._spec.chat_template
                    or self._llm.metadata.get("tokenizer.chat_template"))
        if not template:
            raise ValueError(f"model {self._spec.name!r} has no chat template: set chat_template, "
                             "or register it with prompt_format 'completion' and a template")
        eos, bos = self._llm.token_eos(), self._llm.token_bos()
        return Jinja2ChatFormatter(
            template=template,
            eos_token=self._llm._model.token_get_text(eos) if eos != -1 else "",
            bos_token=self._llm._model.token_get_text(bos) if bos != -1 else "",
        )

    def _tokenize(self, rendered: RenderedRequest) -> tuple[list[int], list[str]]:
        """Prompt tokens exactly as the model will see them, plus the stop strings.

        Completion prompts are plain text (special=False: a document containing ``<bos>`` stays
        text). Chat prompts: the template's own text carries special tokens, message content
        never does (``splice_chat_tokens``: ``<end_of_turn>`` in a document stays text).
        """
        stop = rendered.stop
        if rendered.messages is not None:
            if self._formatter is None:
                raise ValueError(f"model {self._spec.name!r} is completion-format")
            formatted: list[Any] = []

            def render(messages: list[dict[str, str]]) -> str:
                try:
                    result = self._formatter(messages=messages)
                except Exception as exc:  # jinja2 errors, raise_exception() in the template
                    raise ValueError(f"chat template failed: {exc}") from exc
                formatted.append(result)
                return str(result.prompt)

            def template(text: str, first: bool) -> list[int]:
                add = first and not formatted[0].added_special
                return self._vocab.tokenize(text.encode("utf-8"), add_bos=add, special=True)

            def content(text: str) -> list[int]:
                return self._vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False)

            with self._vocab_lock:
                tokens = splice_chat_tokens(rendered.messages, render, template, content)
            stop = merge_stop(stop, [s for s in (formatted[0].stop or []) if isinstance(s, str)])
            return tokens, stop
        else:
            text, add_bos, special = rendered.prompt or "", True, False
        with self._vocab_lock:
            tokens = self._vocab.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special)
        return tokens, stop

    def count_tokens(self, request: ChatRequest) -> int:
        """Exact prompt length in the model's tokenizer (template and BOS included)."""
        tokens, _ = self._tokenize(render_request(request, self._spec))
        return len(tokens)

    async def generate(self, request: ChatRequest) -> Completion:
        """Tokenize and budget-check here, then generate on the single llama.cpp thread."""
        if self._closed:
            raise EngineDead("llama.cpp engine is shut down")
        start = time.perf_counter()
        self.stats.add("requests")
        try:
            try:
                tokens, stop = self._tokenize(render_request(request, self._spec))
            except (ValueError, RuntimeError) as exc:  # template error, tokenizer failure
                raise RequestError("bad_request", f"cannot render prompt: {exc}",
                                   retryable=False) from exc
            check_budget(len(tokens), request.sampling.max_tokens, self.max_model_len)
            loop = asyncio.get_running_loop()
            out = await loop.run_in_executor(self._worker, self._generate_blocking, tokens,
                                             request.sampling, stop)
        except RequestError as exc:
            self.stats.add("errors_" + exc.reason)
            raise
        text, finish, prompt_n, completion_n, cached = out
        self.stats.add("completed")
        self.stats.add("prompt_tokens", prompt_n)
        self.stats.add("completion_tokens", completion_n)
        self.stats.add("cached_prompt_tokens", cached)
        return Completion(text=text, finish_reason=finish, prompt_tokens=prompt_n,
                          completion_tokens=completion_n, cached_prompt_tokens=cached,
                          latency_s=time.perf_counter() - start, model=self.model_name)

    def _generate_blocking(self, tokens: list[int], sampling: SamplingParams,
                           stop: list[str]) -> tuple[str, Any, int, int, int]:
        """The one place that touches the llama.cpp context (worker thread only)."""
        llm = self._llm
        try:
            # llama.cpp re-evaluates from the longest common prefix with the previous prompt.
            cached = max(0, min(llm.longest_token_prefix(llm._input_ids.tolist(), tokens),
                                len(tokens) - 1))
        except AttributeError:  # private attribute moved in another llama-cpp-python release
            cached = 0
        try:
            out = llm.create_completion(
                prompt=tokens,
                max_tokens=sampling.max_tokens,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                top_k=0,    # disabled, as in vLLM / OpenAI: only temperature and top_p apply
                min_p=0.0,
                stop=stop,
                seed=sampling.seed if self.config.sends_seeds() else None,
                grammar=self._grammar(sampling.json_schema),
            )
        except (RuntimeError, ValueError) as exc:
            llm.reset()  # drop possibly half-evaluated KV state; the next request starts clean
            raise RequestError("llama_error", str(exc)) from exc
        choice = out["choices"][0]  # type: ignore[index]
        usage = out["usage"]  # type: ignore[index]
        finish = "length" if choice["finish_reason"] == "length" else "stop"
        return (choice["text"], finish, usage["prompt_tokens"], usage["completion_tokens"],
                cached)

    def _grammar(self, schema: dict[str, Any] | None) -> Any:
        """A GBNF grammar for a JSON schema (built once per schema): structured output."""
        if schema is None:
            return None
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            from llama_cpp import LlamaGrammar

            self._grammars[key] = LlamaGrammar.from_json_schema(key, verbose=False)
        return self._grammars[key]

    def shutdown(self) -> None:
        """Finish the running request, drop queued ones, free the model."""
        if self._closed:
            return
        self._closed = True
        self._worker.shutdown(wait=True, cancel_futures=True)
        self._llm.close()
        self._vocab.close()
