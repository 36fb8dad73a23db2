"""How full our hosts keep a continuous-batching engine, against turn barriers and a thread pool.

A SIMULATED engine (``SimEngine``: N slots, one token per busy slot per step, an async step loop
that sleeps ``step_ms`` per step, output lengths drawn per request) is driven by UltraLink
multi-turn dialogues (question + answer per turn; after the first turn a follow-up happens
unless a draw falls under the stop probability, 0.1 at the first follow-up, doubling after
every follow-up turn) in three ways:

(a) ours: an ``LLMStage`` subclass (one coroutine per dialogue) through ``HostPool`` and
    ``EngineHost`` — the real classes; in process by default (on 2 cores Ray's per-call
    overhead would be measured, not our scheduling), or ``--ray`` for real actors + Ray Data;
(b) per-turn static batches: each batch of rows runs turn k of all its dialogues as one engine
    call and waits for the slowest before turn k+1 (a sync Ray Data UDF: one batch at a time);
    also reported with the whole data set as one batch (the best a static scheme can do);
(c) the reference implementation: 8 threads, each making one blocking call at a time.

Occupancy = generated tokens / (slots × steps) from the first admitted request to the last
completion; tokens/step = the same numerator per step. The last line printed is JSON.

    python benchmarks/llm_occupancy.py            # ~1 minute on 2 cores
    python benchmarks/llm_occupancy.py --ray      # (a) through Ray actors and Ray Data
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import random
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ultralink.llm.registry import EngineConfig  # noqa: E402
from ultralink.llm.types import ChatRequest, Completion, SamplingParams  # noqa: E402
from ultralink.pipeline.engine_host import HostOptions, HostPool  # noqa: E402
from ultralink.pipeline.llm_stage import LLMStage  # noqa: E402

# Table 2 of the paper: 87.86 question and 290.35 answer tokens per turn on average.
MEAN_TOKENS = {"q": 88.0, "a": 290.0}
SIGMA = {"q": 0.5, "a": 0.6}
MAX_TOKENS = {"q": 512, "a": 1024}


class SimEngine:
    """A continuous-batching engine in simulation: admits waiting requests into free slots at
    every step, emits one token per busy slot per step, finishes a request at its length."""

    def __init__(self, config: EngineConfig) -> None:
        kw = config.engine_kwargs
        self.slots = int(kw.get("slots", 256))
        self.step_s = float(kw.get("step_ms", 0.0)) / 1000
        self.yields = int(kw.get("yields_per_step", 8))
        self.seed = int(kw.get("seed", 0))
        self.model_name = config.model
        self.max_model_len = 8192
        self._waiting: deque[tuple[int, asyncio.Future[Completion]]] = deque()
        self._running: list[tuple[int, int, int, asyncio.Future[Completion]]] = []
        self._seq = 0
        self._step = 0
        self._active: list[int] = []  # busy slots per step
        self._first: int | None = None
        self._last = 0
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def length(self, request: ChatRequest) -> int:
        kind = request.request_id.rsplit("/", 1)[-1]
        rng = random.Random(f"{self.seed}|{request.request_id}")
        mean, sigma = MEAN_TOKENS[kind], SIGMA[kind]
        n = int(rng.lognormvariate(_mu(mean, sigma), sigma))
        return max(4, min(n, request.sampling.max_tokens))

    async def generate(self, request: ChatRequest) -> Completion:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())
        fut: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._waiting.append((self.length(request), fut))
        return await fut

    async def _loop(self) -> None:
        while not self._closed:
            while self._waiting and len(self._running) < self.slots:
                n, fut = self._waiting.popleft()
                if self._first is None:
                    self._first = self._step
                self._seq += 1
                heapq.heappush(self._running, (self._step + n, self._seq, n, fut))
            self._active.append(len(self._running))
            self._step += 1
            while self._running and self._running[0][0] <= self._step:
                _, _, n, fut = heapq.heappop(self._running)
                self._last = self._step
                if not fut.done():
                    fut.set_result(Completion(text="x" * 8, finish_reason="stop",
                                              prompt_tokens=64, completion_tokens=n))
            if self.step_s:
                await asyncio.sleep(self.step_s)
            else:  # logical time: give clients a few loop turns to answer between steps
                for _ in range(self.yields):
                    await asyncio.sleep(0)

    def stats(self) -> dict[str, Any]:
        first = self._first or 0
        window = self._active[first:self._last]
        tokens = sum(window)
        steps = max(1, len(window))
        return {"slots": self.slots, "steps": len(window), "tokens": tokens,
                "occupancy": tokens / (self.slots * steps), "tokens_per_step": tokens / steps}

    def count_tokens(self, request: ChatRequest) -> int:
        return 64

    def shutdown(self) -> None:
        self._closed = True  # the step loop ends at its next step

    async def aclose(self) -> None:
        self.shutdown()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


def _mu(mean: float, sigma: float) -> float:
    import math

    return math.log(mean) - sigma * sigma / 2


# -- the dialogues ---------------------------------------------------------------------------
def num_turns(dialogue_id: str, seed: int) -> int:
    """UltraLink's stop rule: before each follow-up stop with p (0.1, then doubled each turn)."""
    rng = random.Random(f"{seed}|{dialogue_id}|stop")
    turns, p = 1, 0.1
    while p < 1 and rng.random() >= p:
        turns += 1
        p *= 2
    return turns


def request(dialogue_id: str, turn: int, kind: str) -> ChatRequest:
    return ChatRequest(prompt=f"{dialogue_id} turn {turn} {kind}", affinity=dialogue_id,
                       request_id=f"{dialogue_id}/t{turn}/{kind}",
                       sampling=SamplingParams(max_tokens=MAX_TOKENS[kind]))


class UltraLinkDialogue(LLMStage):
    """(a): one coroutine per dialogue — question, answer, stop draw, follow-up, …"""

    name = "dialogue_sim"
    reads = {"id": "dialogue id", "seed": "run seed"}
    writes = {"turns": "turns generated", "tokens": "completion tokens"}

    async def process_row(self, row: dict[str, Any], client: Any) -> dict[str, Any]:
        tokens = 0
        turns = num_turns(row["id"], row["seed"])
        for turn in range(turns):
            for kind in ("q", "a"):
                out = await client.generate(request(row["id"], turn, kind))
                tokens += out.completion_tokens
        return {"turns": turns, "tokens": tokens}


def sim_config(slots: int, step_ms: float, seed: int, engine: str) -> EngineConfig:
    return EngineConfig(engine=engine, model="sim", max_concurrency=slots,
                        engine_kwargs={"slots": slots, "step_ms": step_ms, "seed": seed})


async def run_ours_local(cfg: EngineConfig, rows: list[dict[str, Any]], batch_size: int,
                         batches_in_flight: int, options: HostOptions) -> dict[str, Any]:
    """Our stage + pool + host in process; batches fed like Ray Data feeds an async UDF."""
    engines: list[SimEngine] = []

    def factory(c: EngineConfig) -> SimEngine:
        engines.append(SimEngine(c))
        return engines[-1]

    pool = HostPool.local(cfg, 1, options=options, engine_factory=factory)
    stage = UltraLinkDialogue(pool)
    gate = asyncio.Semaphore(batches_in_flight)

    async def one(batch: list[dict[str, Any]]) -> int:
        async with gate:
            table = await stage({k: [r[k] for r in batch] for k in ("id", "seed")})
            return table.num_rows

    chunks = [rows[i:i + batch_size] for i in range(0, len(rows), batch_size)]
    done = sum(await asyncio.gather(*(one(c) for c in chunks)))
    assert done == len(rows), (done, len(rows))
    stats = engines[0].stats()
    await engines[0].aclose()
    return stats


def run_ours_ray(cfg: EngineConfig, rows: list[dict[str, Any]], batch_size: int,
                 options: HostOptions) -> dict[str, Any]:
    """(a) with real actors: the host is a Ray actor, the stage a Ray Data async UDF."""
    import ray

    bench = str(Path(__file__).resolve().parent)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": f"{ROOT}:{bench}"}})
    pool = HostPool.create(cfg, 1, "occupancy",
                           options=options.model_copy(update={"num_cpus": 0}))
    ds = UltraLinkDialogue.apply(ray.data.from_items(rows), pool, concurrency=1,
                                 batch_size=batch_size, max_concurrent_batches=4)
    assert ds.count() == len(rows)
    stats = pool.stats()["hosts"]["occupancy-host-0"]["engine"]
    pool.shutdown()
    ray.shutdown()
    return stats


async def run_static(cfg: EngineConfig, rows: list[dict[str, Any]],
                     batch_size: int) -> dict[str, Any]:
    """(b): per batch, turn k of every dialogue as one call; the slowest gates turn k+1."""
    engine = SimEngine(cfg)
    for i in range(0, len(rows), batch_size):
        batch = rows[i:i + batch_size]
        turns = {r["id"]: num_turns(r["id"], r["seed"]) for r in batch}
        turn = 0
        alive = [r["id"] for r in batch]
        while alive:
            for kind in ("q", "a"):
                await asyncio.gather(*(engine.generate(request(d, turn, kind)) for d in alive))
            turn += 1
            alive = [d for d in alive if turns[d] > turn]
    stats = engine.stats()
    await engine.aclose()
    return stats


def run_threadpool(cfg: EngineConfig, rows: list[dict[str, Any]], threads: int) -> dict[str, Any]:
    """(c): the reference code: a pool of threads, one blocking request at a time each."""
    engine = SimEngine(cfg)
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()

    def dialogue(row: dict[str, Any]) -> None:
        for turn in range(num_turns(row["id"], row["seed"])):
            for kind in ("q", "a"):
                asyncio.run_coroutine_threadsafe(
                    engine.generate(request(row["id"], turn, kind)), loop).result()

    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(dialogue, rows))
    stats = engine.stats()
    asyncio.run_coroutine_threadsafe(engine.aclose(), loop).result()
    loop.call_soon_threadsafe(loop.stop)
    runner.join(5)
    return stats


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dialogues", type=int, default=8192,
                    help="(a) and (b); the final drain costs ~slots/dialogues of occupancy")
    ap.add_argument("--threadpool-dialogues", type=int, default=32,
                    help="(c) runs ~30x longer per dialogue; its occupancy does not depend on "
                    "the count (at most threads/slots)")
    ap.add_argument("--slots", type=int, default=256, help="engine max sequences")
    ap.add_argument("--step-ms", type=float, default=0.0,
                    help="0: logical steps (8 event-loop turns each) for (a) and (b)")
    ap.add_argument("--threadpool-step-ms", type=float, default=2.0,
                    help="(c) uses real time so the threads can answer between steps")
    ap.add_argument("--batch-size", type=int, default=256, help="Ray Data batch size (a, b)")
    ap.add_argument("--batches-in-flight", type=int, default=4,
                    help="async batches per stage actor (Ray Data's default is 4)")
    ap.add_argument("--admission", choices=["oldest_dialogue", "fifo"],
                    default="oldest_dialogue", help="EngineHost admission order for (a)")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ray", action="store_true", help="(a) through Ray actors and Ray Data "
                    "(real-time steps of --ray-step-ms; Ray's per-call cost on 2 cores shows)")
    ap.add_argument("--ray-step-ms", type=float, default=5.0)
    args = ap.parse_args(argv)

    rows = [{"id": f"d{i}", "seed": args.seed} for i in range(args.dialogues)]
    engine = "llm_occupancy:SimEngine"
    logical = sim_config(args.slots, args.step_ms, args.seed, engine)
    turns = sum(num_turns(r["id"], r["seed"]) for r in rows) / len(rows)
    print(f"{args.dialogues} dialogues, {turns:.2f} turns each on average (q+a per turn); "
          f"engine: {args.slots} slots; Ray Data batch_size {args.batch_size}")

    results: dict[str, dict[str, Any]] = {}
    seconds = 0.0

    def record(key: str, label: str, fn: Any) -> None:
        nonlocal seconds
        start = time.perf_counter()
        results[key] = r = fn()
        seconds += time.perf_counter() - start
        print(f"  {label:<44} occupancy {r['occupancy']:6.1%}  tokens/step "
              f"{r['tokens_per_step']:6.1f}  steps {r['steps']:7d}")

    options = HostOptions(admission=args.admission)
    if args.ray:
        cfg = sim_config(args.slots, args.ray_step_ms, args.seed, engine)
        record("ours", "(a) ours: Ray actors + Ray Data",
               lambda: run_ours_ray(cfg, rows, args.batch_size, options))
    else:
        record("ours", f"(a) ours: LLMStage/HostPool/EngineHost ({args.admission})",
               lambda: asyncio.run(run_ours_local(logical, rows, args.batch_size,
                                                  args.batches_in_flight, options)))
    record("static", f"(b) static per-turn, batch {args.batch_size}",
           lambda: asyncio.run(run_static(logical, rows, args.batch_size)))
    record("static_one_batch", f"(b') static per-turn, one batch of {args.dialogues}",
           lambda: asyncio.run(run_static(logical, rows, args.dialogues)))
    timed = sim_config(args.slots, args.threadpool_step_ms, args.seed, engine)
    record("threadpool", f"(c) thread pool, {args.threads} threads "
           f"({args.threadpool_dialogues} dialogues)",
           lambda: run_threadpool(timed, rows[:args.threadpool_dialogues], args.threads))

    ours = results["ours"]["occupancy"]
    summary = {
        "occupancy": round(ours, 4),
        "tokens_per_step": round(results["ours"]["tokens_per_step"], 1),
        "vs_static": round(ours / results["static"]["occupancy"], 2),
        "vs_static_one_batch": round(ours / results["static_one_batch"]["occupancy"], 2),
        "vs_threadpool": round(ours / results["threadpool"]["occupancy"], 1),
        "static_occupancy": round(results["static"]["occupancy"], 4),
        "static_one_batch_occupancy": round(results["static_one_batch"]["occupancy"], 4),
        "threadpool_occupancy": round(results["threadpool"]["occupancy"], 4),
        "mode": "ray" if args.ray else "in_process", "admission": args.admission,
        "slots": args.slots, "dialogues": args.dialogues, "seconds": round(seconds, 1),
    }
    print(f"ours / static per-turn: {summary['vs_static']}x (one batch: "
          f"{summary['vs_static_one_batch']}x); ours / thread pool: {summary['vs_threadpool']}x")
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
