"""A vLLM-like engine in simulated time, calibrated to a 7-8B model on one H100: a ChatEngine.

Not a toy slot counter: it models what decides GPU efficiency for UltraLink's dialogues.

- Continuous batching up to ``max_num_seqs`` running sequences (vLLM V1 scheduler order:
  running sequences first, then waiting ones, first come first served).
- A per-step token budget (``max_num_batched_tokens``) with chunked prefill: every decoding
  sequence takes one token, prefills take what is left, a long prompt spans several steps.
- KV cache in 16-token blocks (capacity from the GPU's memory, the weights and the model's
  KV bytes per token); a sequence that needs a block when none is free preempts the most
  recently admitted one, which later recomputes (vLLM's recompute preemption).
- A block-hash prefix cache: a prompt's full blocks are hashed in a chain (each hash covers
  the whole prefix); finished sequences leave their prompt blocks cached, free blocks are
  evicted least recently used first; a new request reuses its longest cached prefix.
- Step time ``a + b·batched_tokens + c·context_tokens`` (weights read once per step, compute
  per token in the step, KV read per token of every scheduled sequence's context).

Calibration (``CALIBRATION``; one H100 SXM 80 GB, a 7.6B bf16 model, Qwen2.5-7B shape):

- ``a`` = weights / effective HBM bandwidth + scheduler overhead: 15.2 GB / (3.35 TB/s × 0.85)
  + 1 ms = 6.3 ms. H100 SXM: 3.35 TB/s HBM3, 989 TFLOPS dense bf16 (NVIDIA H100 datasheet).
- ``b`` = 2 × 7.6e9 FLOPs / (989 TFLOPS × 0.55 MFU) = 28 µs per batched token (prefill
  ≈ 36K tokens/s).
- ``c`` = KV bytes per token (28 layers × 4 KV heads × 128 × 2 (K, V) × 2 B = 57,344 B) /
  (3.35 TB/s × 0.6) = 28 ns per context token per step.
- Cross-check against a published vLLM number: ``benchmark_throughput.py`` with 128-token
  prompts and 128-token outputs reports 11,427 output tokens/s (22,853 total) at
  max_num_seqs 256 on one H100 for an 8B model (vllm-project/vllm PR #8914, Sept 2024,
  vLLM 0.6.x; see also the vLLM v0.6.0 performance blog, 2024-09-05, Llama 3 8B on 1×H100).
  This model gives 256 × 128 / (256 × 128 × b + 128 × (a + 256 b + 256 × 192 c)) ≈ 11.6K.
- KV capacity: 80 GB × 0.9 − 15.2 GB weights − 4 GB activations ≈ 52.8 GB ≈ 920K tokens
  (57.5K blocks): 256 sequences of ~3.6K tokens fit. An A10G (24 GB) has ~4.4 GB left: ~77K
  tokens, ~20 such sequences — why ``jobs/full.yaml`` asks for H100s.

Time is virtual (:class:`VirtualClock`): a step "takes" its modelled time and the clock
wakes the engine whose step ends first once the event loop has nothing else to run, so the
real pipeline code (HostPool, EngineHost, LLM stages) drives it at full speed on a CPU.

Use as an engine: ``EngineConfig(engine="benchmarks.gpu_engine_model:GPUEngineModel",
model="sim-7b", max_concurrency=256, engine_kwargs={"gpu": "h100", "clock": "run1"})``;
``engine_kwargs["text"]`` names another engine class (e.g. a scripted fake) whose answers
are returned (timed by their length), else the text is filler of Table 2-shaped length.
"""

from __future__ import annotations

import asyncio
import heapq
import importlib
import math
import random
import re
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ultralink.llm.types import ChatRequest, Completion, RequestError

BLOCK = 16


@dataclass(frozen=True)
class GPU:
    name: str
    mem_gb: float
    hbm_tbps: float
    bf16_tflops: float


@dataclass(frozen=True)
class ModelShape:
    name: str
    params_b: float
    layers: int
    kv_heads: int
    head_dim: int

    @property
    def weight_bytes(self) -> float:
        return self.params_b * 1e9 * 2

    @property
    def kv_bytes_per_token(self) -> int:
        return self.layers * self.kv_heads * self.head_dim * 2 * 2


GPUS = {
    "h100": GPU("H100 SXM 80GB", 80, 3.35, 989),
    "a100": GPU("A100 SXM 80GB", 80, 2.04, 312),
    "l40s": GPU("L40S 48GB", 48, 0.864, 362),
    "a10g": GPU("A10G 24GB", 24, 0.6, 125),
}
MODELS = {
    "qwen2.5-7b": ModelShape("Qwen2.5-7B", 7.6, 28, 4, 128),
    "llama3-8b": ModelShape("Llama-3-8B", 8.0, 32, 8, 128),
}
CALIBRATION = {"hbm_efficiency": 0.85, "overhead_s": 1.0e-3, "mfu": 0.55,
               "attention_efficiency": 0.6, "activation_gb": 4.0}


@dataclass(frozen=True)
class StepModel:
    a: float
    b: float
    c: float
    kv_blocks: int

    @classmethod
    def of(cls, gpu: GPU, model: ModelShape, gpu_memory_utilization: float = 0.9) -> StepModel:
        k = CALIBRATION
        a = model.weight_bytes / (gpu.hbm_tbps * 1e12 * k["hbm_efficiency"]) + k["overhead_s"]
        b = 2 * model.params_b * 1e9 / (gpu.bf16_tflops * 1e12 * k["mfu"])
        c = model.kv_bytes_per_token / (gpu.hbm_tbps * 1e12 * k["attention_efficiency"])
        free = gpu.mem_gb * 1e9 * gpu_memory_utilization - model.weight_bytes \
            - k["activation_gb"] * 1e9
        blocks = max(1, int(free / model.kv_bytes_per_token / BLOCK))
        return cls(a, b, c, blocks)

    def step_s(self, batched: int, context: int) -> float:
        return self.a + self.b * batched + self.c * context


class VirtualClock:
    """Simulated time shared by the engines of one run (discrete-event)."""

    _clocks: ClassVar[dict[str, VirtualClock]] = {}

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0
        self._pending = asyncio.Event()
        self._driver: asyncio.Task[None] | None = None

    @classmethod
    def named(cls, name: str) -> VirtualClock:
        if name not in cls._clocks:
            cls._clocks[name] = cls()
        return cls._clocks[name]

    @classmethod
    def drop(cls, name: str) -> None:
        clock = cls._clocks.pop(name, None)
        if clock is not None and clock._driver is not None:
            clock._driver.cancel()

    async def sleep_until(self, t: float) -> None:
        loop = asyncio.get_running_loop()
        if self._driver is None or self._driver.done():
            self._driver = loop.create_task(self._drive())
        fut: asyncio.Future[None] = loop.create_future()
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, fut))
        self._pending.set()
        await fut

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await _idle(loop)
            if not self._heap:
                self._pending.clear()
                await self._pending.wait()
                continue
            t, _, fut = heapq.heappop(self._heap)
            self.now = max(self.now, t)
            if not fut.done():
                fut.set_result(None)


async def _idle(loop: asyncio.AbstractEventLoop) -> None:
    """Return once no other callback is ready (every client has reacted to the last step)."""
    ready = getattr(loop, "_ready", None)
    for _ in range(10_000):
        await asyncio.sleep(0)
        if ready is not None and not ready:
            return
    # no access to the ready queue: a fixed number of turns is the fallback
    for _ in range(64):
        await asyncio.sleep(0)


_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef]{1,2}|"
                      r"[^\s\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef]+")


def tokens_of(text: str) -> list[str]:
    """Whitespace tokens: a fast stand-in tokenizer (prefix sharing is what matters here);
    Chinese / Japanese / Korean text, written without spaces, counts two characters a token
    (Qwen2.5's tokenizer: ~1.4 Chinese characters per token)."""
    if text.isascii():
        return text.split()
    return _UNSPACED.findall(text)


def block_hashes(tokens: list[str]) -> list[int]:
    """Chained hash of each full block: block i's hash covers tokens [0, 16(i+1))."""
    out, h = [], 0
    for i in range(len(tokens) // BLOCK):
        h = hash((h, *tokens[i * BLOCK:(i + 1) * BLOCK]))
        out.append(h)
    return out


@dataclass(eq=False, slots=True)
class _Seq:
    prompt_len: int
    hashes: list[int]
    target: int                      # output tokens to generate
    future: asyncio.Future[Completion]
    text: str
    arrived: float
    computed: int = 0                # tokens with KV computed (prompt + output)
    generated: int = 0
    cached: int = 0                  # prompt tokens served by the prefix cache (first admission)
    first_admit: bool = True
    blocks: list[int] = field(default_factory=list)  # block ids held (shared ones included)
    owned: int = 0                   # leading blocks that are their hash's cached block
    order: int = 0

    @property
    def total_len(self) -> int:
        return self.prompt_len + self.generated

    @property
    def prefilling(self) -> bool:
        return self.computed < self.total_len


class _KV:
    """Block pool with a hash → block prefix cache and LRU eviction of unreferenced blocks."""

    def __init__(self, blocks: int, caching: bool) -> None:
        self.total = blocks
        self.caching = caching
        self.ref = [0] * blocks
        self.hash_of: list[int | None] = [None] * blocks
        self.by_hash: dict[int, int] = {}
        self.free_fresh: deque[int] = deque(range(blocks))
        self.free_cached: OrderedDict[int, None] = OrderedDict()  # LRU order, oldest first
        self.evictions = 0

    @property
    def free(self) -> int:
        return len(self.free_fresh) + len(self.free_cached)

    def hits(self, hashes: list[int]) -> int:
        n = 0
        if self.caching:
            for h in hashes:
                if h not in self.by_hash:
                    break
                n += 1
        return n

    def admissible_hits(self, hashes: list[int], limit: int) -> tuple[int, int]:
        """(cached prefix blocks, up to ``limit``; how many of them no one holds): one pass."""
        if not self.caching:
            return 0, 0
        by_hash, ref = self.by_hash, self.ref
        n = idle = 0
        for h in hashes[:limit]:
            b = by_hash.get(h)
            if b is None:
                break
            n += 1
            if ref[b] == 0:
                idle += 1
        return n, idle

    def take_cached_prefix(self, hashes: list[int]) -> list[int]:
        """:meth:`take_cached` of every hash, in order."""
        by_hash, ref, free_cached = self.by_hash, self.ref, self.free_cached
        out = []
        for h in hashes:
            b = by_hash[h]
            if ref[b] == 0:
                del free_cached[b]
            ref[b] += 1
            out.append(b)
        return out

    def release_all(self, blocks: list[int]) -> None:
        """:meth:`release` of every block, in order."""
        ref, hash_of, free_cached, free_fresh = self.ref, self.hash_of, self.free_cached, \
            self.free_fresh
        for b in blocks:
            ref[b] -= 1
            if ref[b] == 0:
                if hash_of[b] is not None:
                    free_cached[b] = None
                else:
                    free_fresh.append(b)

    def publish_all(self, blocks: list[int], hashes: list[int], n: int, start: int = 0) -> int:
        """:meth:`publish` of the (block, hash) pairs ``start`` to ``n``; returns how many
        leading blocks are now their hash's cached block (while held, they stay so: only
        free blocks are evicted, so a later call may start there)."""
        if not self.caching:
            return start
        by_hash, hash_of = self.by_hash, self.hash_of
        owned = -1
        n = min(n, len(blocks), len(hashes))
        for i in range(start, n):
            b, h = blocks[i], hashes[i]
            if hash_of[b] is None and h not in by_hash:
                hash_of[b] = h
                by_hash[h] = b
            elif owned < 0 and by_hash.get(h) != b:
                owned = i  # another block holds this hash (computed concurrently)
        return n if owned < 0 else owned

    def take_cached(self, h: int) -> int:
        b = self.by_hash[h]
        if self.ref[b] == 0:
            del self.free_cached[b]
        self.ref[b] += 1
        return b

    def allocate(self) -> int | None:
        if self.free_fresh:
            b = self.free_fresh.popleft()
        elif self.free_cached:
            b, _ = self.free_cached.popitem(last=False)  # least recently used
            old = self.hash_of[b]
            if old is not None and self.by_hash.get(old) == b:
                del self.by_hash[old]
            self.hash_of[b] = None
            self.evictions += 1
        else:
            return None
        self.ref[b] = 1
        return b

    def publish(self, b: int, h: int) -> None:
        if self.caching and h not in self.by_hash and self.hash_of[b] is None:
            self.hash_of[b] = h
            self.by_hash[h] = b

    def release(self, b: int) -> None:
        self.ref[b] -= 1
        if self.ref[b] == 0:
            if self.hash_of[b] is not None:
                self.free_cached[b] = None  # most recently used end
            else:
                self.free_fresh.append(b)


# Table 2 of the paper: 87.86 question and 290.35 answer tokens per turn on average.
def draw_length(request: ChatRequest, seed: int) -> int:
    """Output length: lognormal around Table 2's means (questions vs answers by max_tokens)."""
    mean, sigma = (88.0, 0.5) if request.sampling.max_tokens <= 256 else (290.0, 0.6)
    rng = random.Random(f"{seed}|{request.request_id}|{request.sampling.seed}")
    n = int(rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma))
    return max(4, min(n, request.sampling.max_tokens))


class GPUEngineModel:
    """The engine model as a ChatEngine (see the module docstring)."""

    def __init__(self, config: Any) -> None:
        kw = dict(config.engine_kwargs)
        self.gpu = GPUS[str(kw.get("gpu", "h100"))]
        self.shape = MODELS[str(kw.get("shape", "qwen2.5-7b"))]
        self.model = StepModel.of(self.gpu, self.shape, config.gpu_memory_utilization)
        if kw.get("kv_blocks"):
            self.model = StepModel(self.model.a, self.model.b, self.model.c, int(kw["kv_blocks"]))
        self.max_num_seqs = config.seqs
        self.max_batched = config.max_num_batched_tokens or 8192
        self.model_name = config.model
        self.max_model_len = config.max_model_len or 8192
        self.seed = int(kw.get("seed", 0))
        self.clock_name = str(kw.get("clock", "default"))
        self.kv = _KV(self.model.kv_blocks, config.enable_prefix_caching)
        self._text_engine: Any = None
        if kw.get("text"):
            module, _, cls = str(kw["text"]).partition(":")
            self._text_engine = getattr(importlib.import_module(module), cls)(config)
        self._tokenized: dict[int, list[str]] = {}
        self._waiting: deque[_Seq] = deque()
        self._running: list[_Seq] = []
        self._order = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        # statistics
        self.steps = 0
        self.busy_s = 0.0
        self.seq_seconds = 0.0          # Σ running × step time
        self.tokens_out = 0
        self.tokens_prefilled = 0
        self.prompt_tokens = 0
        self.cached_tokens = 0
        self.preemptions = 0
        self.context_sum = 0
        self.seq_steps = 0
        self.trace: list[tuple[float, float, int]] = []  # (step start, duration, running)
        self.first_t: float | None = None
        self.last_t = 0.0

    # -- ChatEngine -------------------------------------------------------------------------
    def capacity(self) -> dict[str, int]:
        return {"max_num_seqs": self.max_num_seqs, "kv_cache_tokens": self.model.kv_blocks * BLOCK}

    def count_tokens(self, request: ChatRequest) -> int:
        tokens = tokens_of(_text(request))
        self._tokenized[id(request)] = tokens  # the host counts, then generates: split once
        return len(tokens)

    async def generate(self, request: ChatRequest) -> Completion:
        if self._closed:
            raise RequestError("closed", "engine shut down", retryable=False)
        tokens = self._tokenized.pop(id(request), None) or tokens_of(_text(request))
        if len(tokens) + request.sampling.max_tokens > self.max_model_len:
            raise RequestError("context_overflow", "prompt + max_tokens > max_model_len",
                               retryable=False)
        if self._text_engine is not None:
            out = await self._text_engine.generate(request)
            text = out.text
            target = max(1, min(len(tokens_of(text)), request.sampling.max_tokens))
        else:
            target = draw_length(request, self.seed)
            text = " ".join(["w"] * target)
        loop = asyncio.get_running_loop()
        if self._task is None:
            self._task = loop.create_task(self._loop())
        clock = VirtualClock.named(self.clock_name)
        fut: asyncio.Future[Completion] = loop.create_future()
        self._waiting.append(_Seq(len(tokens), block_hashes(tokens), target, fut, text,
                                  clock.now))
        self._wake.set()
        return await fut

    def shutdown(self) -> None:
        self._closed = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()

    def seq_seconds_until(self, t_end: float) -> float:
        """Σ running × time over steps that start before ``t_end`` (clipped at it)."""
        total = 0.0
        for start, dt, running in self.trace:
            if start >= t_end:
                break
            total += running * min(dt, t_end - start)
        return total

    def stats(self) -> dict[str, Any]:
        return {"steps": self.steps, "busy_s": round(self.busy_s, 3),
                "seq_seconds": round(self.seq_seconds, 3), "tokens_out": self.tokens_out,
                "tokens_prefilled": self.tokens_prefilled, "prompt_tokens": self.prompt_tokens,
                "cached_tokens": self.cached_tokens, "preemptions": self.preemptions,
                "evictions": self.kv.evictions, "max_num_seqs": self.max_num_seqs,
                "kv_blocks": self.model.kv_blocks, "first_t": self.first_t,
                "last_t": self.last_t}

    # -- the scheduler ----------------------------------------------------------------------
    async def _loop(self) -> None:
        clock = VirtualClock.named(self.clock_name)
        while not self._closed:
            if not self._running and not self._waiting:
                self._wake.clear()
                await self._wake.wait()
                continue
            batched, context, scheduled = self._schedule()
            if not scheduled:  # nothing fits (cannot happen with one sequence per KV): wait
                self._wake.clear()
                await self._wake.wait()
                continue
            dt = self.model.step_s(batched, context)
            start = clock.now
            if self.first_t is None:
                self.first_t = start
            await clock.sleep_until(start + dt)
            self.steps += 1
            self.busy_s += dt
            self.seq_seconds += len(self._running) * dt
            self.context_sum += context
            self.trace.append((start, dt, len(self._running)))
            self.seq_steps += len(scheduled)
            self._advance(scheduled)
            self.last_t = clock.now

    def _schedule(self) -> tuple[int, int, list[tuple[_Seq, int]]]:
        """One step's work: (batched tokens, context tokens, [(seq, tokens this step)])."""
        budget = self.max_batched
        work: list[tuple[_Seq, int]] = []
        # running sequences first, oldest first; a decode needing a block may preempt
        i = 0
        context = 0
        running = self._running
        append = work.append
        while i < len(running) and budget > 0:
            seq = running[i]
            computed = seq.computed
            if computed >= seq.prompt_len + seq.generated and computed < len(seq.blocks) * BLOCK:
                append((seq, 1))  # a decode with room in its last block: the common case
                context += computed + 1
                budget -= 1
                i += 1
                continue
            total = seq.prompt_len + seq.generated
            n = min(total - seq.computed, budget) if seq.computed < total else 1
            if not self._grow(seq, seq.computed + n):
                victim = self._running.pop()  # the most recently admitted
                self._preempt(victim)
                if victim is seq:
                    break
                continue
            work.append((seq, n))
            context += seq.computed + n
            budget -= n
            i += 1
        # then waiting ones, first come first served, while slots, budget and KV allow
        while self._waiting and len(self._running) < self.max_num_seqs and budget > 0:
            seq = self._waiting[0]
            hit, idle = self.kv.admissible_hits(seq.hashes, (seq.total_len - 1) // BLOCK)
            need_blocks = -(-min(seq.total_len, hit * BLOCK + budget) // BLOCK) - hit
            if need_blocks > self.kv.free - idle:
                break
            self._waiting.popleft()
            seq.blocks = self.kv.take_cached_prefix(seq.hashes[:hit])
            seq.owned = hit
            seq.computed = hit * BLOCK
            if seq.first_admit:
                seq.cached = seq.computed
                seq.first_admit = False
            n = min(seq.total_len - seq.computed, budget)
            if not self._grow(seq, seq.computed + n):  # cannot happen after the check above
                self._release(seq)
                self._waiting.appendleft(seq)
                break
            self._order += 1
            seq.order = self._order
            self._running.append(seq)
            work.append((seq, n))
            context += seq.computed + n
            budget -= n
        batched = self.max_batched - budget
        return batched, context, work

    def _grow(self, seq: _Seq, tokens: int) -> bool:
        """Hold enough blocks for ``tokens`` KV entries; False when the pool is exhausted."""
        while len(seq.blocks) * BLOCK < tokens:
            b = self.kv.allocate()
            if b is None:
                return False
            seq.blocks.append(b)
        return True

    def _release(self, seq: _Seq) -> None:
        self.kv.release_all(seq.blocks)
        seq.blocks = []
        seq.owned = 0

    def _preempt(self, seq: _Seq) -> None:
        """Recompute preemption: drop its KV (prompt blocks stay cached), requeue it first."""
        self.preemptions += 1
        self._publish(seq)
        self._release(seq)
        seq.computed = 0
        self._waiting.appendleft(seq)

    def _publish(self, seq: _Seq) -> None:
        """Make the sequence's computed full prompt blocks findable by hash."""
        seq.owned = self.kv.publish_all(seq.blocks, seq.hashes,
                                        min(seq.computed, seq.prompt_len) // BLOCK, seq.owned)

    def _advance(self, work: list[tuple[_Seq, int]]) -> None:
        finished = []
        out = prefilled = 0
        for seq, n in work:
            total = seq.prompt_len + seq.generated
            if seq.computed < total:  # was prefilling
                seq.computed += n
                prefilled += n
                if seq.computed < total:
                    continue
                self._publish(seq)
                if seq.generated > 0:
                    continue  # a preempted sequence has recomputed its KV; decode next step
            else:
                seq.computed += n
            seq.generated += 1  # the step's sample (the last prefill chunk samples too)
            out += 1
            if seq.generated >= seq.target:
                finished.append(seq)
        self.tokens_prefilled += prefilled
        self.tokens_out += out
        if finished:
            done = set(finished)
            self._running = [seq for seq in self._running if seq not in done]
        for seq in finished:
            self._publish(seq)
            self._release(seq)
            self.prompt_tokens += seq.prompt_len
            self.cached_tokens += seq.cached
            if not seq.future.done():
                seq.future.set_result(Completion(
                    text=seq.text, finish_reason="stop", prompt_tokens=seq.prompt_len,
                    completion_tokens=seq.generated, cached_prompt_tokens=seq.cached,
                    model=self.model_name))


def _text(request: ChatRequest) -> str:
    if request.prompt is not None:
        return request.prompt
    return "\n".join(f"<{m.role}>\n{m.content}" for m in request.messages or [])
