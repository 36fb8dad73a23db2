"""The LLM layer at GPU scale, simulated: jobs/full.yaml as shipped on the engine model.

Reads the topology and sizes from ``jobs/full.yaml`` (engine hosts, stage actors,
``max_dialogues`` per language, the generator's ``max_concurrency`` / ``max_model_len`` /
``max_num_batched_tokens``, the dialogue's token limits and stop rule) and the GPU type from
``cluster.yaml`` (the ``gpu_worker`` instance type), then runs one language's dialogues on
:mod:`gpu_engine_model` (a vLLM-like engine in virtual time, calibrated to a 7-8B model on
one H100; see its docstring for the cited numbers) three ways:

(a) ours: the real ``HostPool`` / ``EngineHost`` (KV-aware gate read back from the engine) and
    an ``LLMStage`` per stage actor, fed batches the way Ray Data feeds an async UDF, batch
    size and batches in flight from ``stage_sizing`` (nothing set by hand);
(b) the whole-dataset per-turn barrier (what chaining Ray Data LLM processors does): turn k's
    questions of every live dialogue, then their answers, then turn k+1;
(c) static per-turn batches of (hosts × max_num_seqs) dialogues, one batch at a time (an
    ``LLM.generate`` per turn and role);
(d) ``agnostic``: the real ``AgnosticStage`` (criteria judge + translator, every validator)
    on ShareGPT / MetaMathQA / Magicoder-shaped records, one subset at a time on fresh
    hosts (:mod:`agnostic_sim`); sizes: the config's prune sizes (math 32K, code
    16K) and Table 1's 11K chat per language, or ``--agnostic-records``.

Workload shaped like the paper: 1K-2K-token documents, real prompts from ``PromptBuilder``
(English chat format: shared system prefix, document, history, task), Table 2 output lengths
(88-token questions, 290-token answers, lognormal), the stop rule of ``DialogueConfig``.
Tokens are words (the model's tokenizer does not change prefix sharing).

Reported: occupancy = mean running sequences / max_num_seqs over the run's makespan on every
host; occupancy_while_fed = the same from the start until the last dialogue starts (the
steady state: after it, the last dialogues' remaining turns run one after the other with
nothing left to refill the slots); ceiling_fraction = output tokens/s ÷ the model's ceiling
at max_num_seqs for this workload's measured prefill-per-output-token and context;
vs_turn_barrier / vs_static = dialogues per GPU-hour ratio; prefix_hit_by_turn = cached /
prompt tokens per turn (1-based); dialogues_per_gpu_hour of (a); ``agnostic``: per subset
occupancy, records per GPU-hour, prefix hit of judge and translation prompts, rejects.
Everything is SIMULATED (virtual time); the last line is JSON.

    python benchmarks/llm_gpu_sim.py --modes ours      # (a) at full.yaml size (36K zh dialogues)
    python benchmarks/llm_gpu_sim.py --dialogues 6000  # (a)-(d), quicker (the drain weighs more)
    python benchmarks/llm_gpu_sim.py --modes agnostic --agnostic-records 4000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import yaml

from benchmarks.gpu_engine_model import GPUS, GPUEngineModel, VirtualClock
from ultralink.build import load_config
from ultralink.llm.registry import EngineConfig
from ultralink.llm.types import ChatRequest, Completion
from ultralink.hosting.options import HostOptions
from ultralink.hosting.pool import HostPool
from ultralink.hosting.llm_stage import LLMStage, stage_sizing
from ultralink.specific.dialogue import DialogueConfig, plan_dialogue
from ultralink.specific.prompts import PromptBuilder, Turn, load_prompts

INSTANCE_GPU = {"p5": "h100", "p4d": "a100", "p4de": "a100", "g6e": "l40s", "g5": "a10g"}
VOCAB = [f"{a}{b}" for a in "bcdfghklmnprstvz" for b in ("a", "e", "i", "o", "u", "ar", "en",
                                                           "is", "on", "um")]


def gpu_of_cluster(path: Path) -> str:
    cluster = yaml.safe_load(path.read_text(encoding="utf-8"))
    itype = cluster["available_node_types"]["gpu_worker"]["node_config"]["InstanceType"]
    family = itype.split(".")[0]
    if family not in INSTANCE_GPU:
        raise ValueError(f"{path}: unknown GPU instance type {itype!r}")
    return INSTANCE_GPU[family]


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choices(VOCAB, k=n))


class Workload:
    """Paper-shaped dialogues: documents, plans (stop rule), prompts from PromptBuilder."""

    def __init__(self, n: int, seed: int, dialogue: DialogueConfig) -> None:
        self.cfg = dialogue
        self.builder = PromptBuilder(load_prompts("en"), "chat")
        self.rows = []
        for i in range(n):
            rng = random.Random(f"{seed}|doc|{i}")
            doc = words(rng, rng.randint(1000, 2000))
            plan = plan_dialogue(seed, f"seg{i}", dialogue)
            self.rows.append({"id": f"seg{i}", "document": doc, "turns": plan.turns})

    def request(self, row: dict[str, Any], history: list[Turn], turn: int, role: str,
                question: str | None = None) -> ChatRequest:
        part = ("answer" if role == "a" else "initial_question" if turn == 0
                else "in_depth_question")
        max_tokens = (self.cfg.answer_max_tokens if role == "a"
                      else self.cfg.question_max_tokens)
        return self.builder.request(row["document"], history, part, pending_question=question,
                                    max_tokens=max_tokens, temperature=0.7, top_p=0.95,
                                    seed=turn, affinity=row["id"],
                                    request_id=f"{row['id']}/{turn}/{role}")


class Recorder:
    def __init__(self, clock: str) -> None:
        self.prompt: dict[int, int] = defaultdict(int)
        self.cached: dict[int, int] = defaultdict(int)
        self.clock = clock
        self.last_start = 0.0  # virtual time the last dialogue began

    def started(self) -> None:
        self.last_start = max(self.last_start, VirtualClock.named(self.clock).now)

    def add(self, turn: int, out: Completion) -> None:
        self.prompt[turn + 1] += out.prompt_tokens
        self.cached[turn + 1] += out.cached_prompt_tokens

    def by_turn(self) -> dict[str, float]:
        return {str(t): round(self.cached[t] / self.prompt[t], 4)
                for t in sorted(self.prompt) if self.prompt[t]}


class SimDialogue(LLMStage):
    """(a): one coroutine per dialogue, question then answer per turn."""

    name = "dialogue_gpu_sim"
    reads: ClassVar[dict[str, str]] = {"id": "segment id"}
    writes: ClassVar[dict[str, str]] = {"turns": "turns generated"}

    def __init__(self, pool: HostPool, *, workload: Workload, recorder: Recorder) -> None:
        super().__init__(pool)
        self.workload = workload
        self.recorder = recorder

    async def process_row(self, row: dict[str, Any], client: Any) -> dict[str, Any]:
        full = self.workload.rows[int(row["id"][3:])]
        return {"turns": await run_dialogue(full, self.workload, client.generate,
                                            self.recorder)}


async def run_dialogue(row: dict[str, Any], wl: Workload, generate: Any,
                       rec: Recorder) -> int:
    history: list[Turn] = []
    rec.started()
    for turn in range(row["turns"]):
        q = await generate(wl.request(row, history, turn, "q"))
        rec.add(turn, q)
        a = await generate(wl.request(row, history, turn, "a", q.text))
        rec.add(turn, a)
        history.append(Turn(q.text, a.text))
    return row["turns"]


def engine_config(base: EngineConfig, gpu: str, clock: str, seed: int) -> EngineConfig:
    return base.model_copy(update={
        "engine": "benchmarks.gpu_engine_model:GPUEngineModel", "model": f"sim-{base.model}",
        "num_gpus": base.gpus_per_host,
        "engine_kwargs": {"gpu": gpu, "clock": clock, "seed": seed}})


def make_pool(cfg: EngineConfig, hosts: int) -> tuple[HostPool, list[GPUEngineModel]]:
    engines: list[GPUEngineModel] = []

    def factory(c: EngineConfig) -> GPUEngineModel:
        engines.append(GPUEngineModel(c))
        return engines[-1]

    options = HostOptions(stats_poll_s=0, request_timeout_s=1e9)
    return HostPool.local(cfg, hosts, options=options, engine_factory=factory), engines


def summarize(engines: list[GPUEngineModel], clock: VirtualClock, n: int,
              gpus_per_host: float, fed_until: float) -> dict[str, Any]:
    makespan = clock.now
    seqs = engines[0].max_num_seqs
    model = engines[0].model
    seq_seconds = sum(e.seq_seconds for e in engines)
    out = sum(e.tokens_out for e in engines)
    prefilled = sum(e.tokens_prefilled for e in engines)
    # mean context per running sequence, weighted by steps (the engines record Σ)
    ctx = sum(e.context_sum for e in engines) / max(1, sum(e.seq_steps for e in engines))
    p = prefilled / max(1, out)
    ceiling = seqs / model.step_s(int(seqs * (1 + p)), int(seqs * ctx))  # tokens/s per host
    achieved = out / makespan / len(engines)
    fed = sum(e.seq_seconds_until(fed_until) for e in engines)
    return {"makespan_s": round(makespan, 1),
            "occupancy": seq_seconds / (seqs * makespan * len(engines)),
            # while the stages still had dialogues to start (before the unavoidable drain of
            # the last dialogues' sequential turns)
            "occupancy_while_fed": fed / (seqs * fed_until * len(engines)) if fed_until else None,
            "fed_until_s": round(fed_until, 1),
            "tokens_per_s_per_host": round(achieved, 1), "ceiling_tokens_per_s": round(ceiling, 1),
            "ceiling_fraction": achieved / ceiling,
            "dialogues_per_gpu_hour": n / (len(engines) * gpus_per_host * makespan / 3600),
            "prefill_per_output_token": round(p, 2), "mean_context": round(ctx, 1),
            "preemptions": sum(e.preemptions for e in engines),
            "evictions": sum(e.kv.evictions for e in engines)}


async def run_ours(cfg: EngineConfig, hosts: int, actors: int, wl: Workload,
                   rec: Recorder) -> tuple[list[GPUEngineModel], dict[str, Any]]:
    pool, engines = make_pool(cfg, hosts)
    info = await pool.info()
    total = int(info["max_in_flight"]) * hosts
    sizing = stage_sizing(total, actors)
    stages = [SimDialogue(pool, workload=wl, recorder=rec) for _ in range(actors)]
    ids = [r["id"] for r in wl.rows]
    batches = [ids[i:i + sizing.batch_size] for i in range(0, len(ids), sizing.batch_size)]
    queue: asyncio.Queue[list[str]] = asyncio.Queue()
    for b in batches:
        queue.put_nowait(b)
    done = 0

    async def worker(stage: SimDialogue) -> None:
        nonlocal done
        while not queue.empty():
            batch = queue.get_nowait()
            table = await stage({"id": batch})
            done += table.num_rows

    await asyncio.gather(*(worker(s) for s in stages
                           for _ in range(sizing.max_concurrent_batches)))
    assert done == len(ids), (done, len(ids))
    return engines, {"batch_size": sizing.batch_size,
                     "batches_in_flight_per_actor": sizing.max_concurrent_batches,
                     "host_gate": info["max_in_flight"], "kv_cache_tokens": info["kv_cache_tokens"]}


async def run_barrier(cfg: EngineConfig, hosts: int, wl: Workload, rows: list[dict[str, Any]],
                      rec: Recorder) -> list[GPUEngineModel]:
    """Per-turn barrier over ``rows``: every live dialogue's turn-k question, then answer."""
    pool, engines = make_pool(cfg, hosts)
    await run_static_rows(pool, wl, rows, rec)
    return engines


async def run_static_rows(pool: HostPool, wl: Workload, rows: list[dict[str, Any]],
                          rec: Recorder) -> None:
    history: dict[str, list[Turn]] = {r["id"]: [] for r in rows}
    alive = list(rows)
    turn = 0
    while alive:
        qs = await asyncio.gather(*(pool.generate(wl.request(r, history[r["id"]], turn, "q"))
                                    for r in alive))
        for q in qs:
            rec.add(turn, q)
        ans = await asyncio.gather(*(pool.generate(wl.request(r, history[r["id"]], turn, "a",
                                                              q.text))
                                     for r, q in zip(alive, qs)))
        for r, q, a in zip(alive, qs, ans):
            rec.add(turn, a)
            history[r["id"]].append(Turn(q.text, a.text))
        turn += 1
        alive = [r for r in alive if r["turns"] > turn]


async def run_static(cfg: EngineConfig, hosts: int, wl: Workload,
                     rec: Recorder) -> list[GPUEngineModel]:
    pool, engines = make_pool(cfg, hosts)
    size = hosts * cfg.seqs
    for i in range(0, len(wl.rows), size):
        await run_static_rows(pool, wl, wl.rows[i:i + size], rec)
    return engines


def timed_run(name: str, coro_fn: Any) -> tuple[Any, VirtualClock, float]:
    t0 = time.perf_counter()
    clock_box: dict[str, VirtualClock] = {}

    async def main() -> Any:
        result = await coro_fn()
        clock_box["c"] = VirtualClock.named(name)
        return result

    result = asyncio.run(main())
    VirtualClock.drop(name)
    return result, clock_box["c"], time.perf_counter() - t0


TABLE1_AGNOSTIC_CHAT = 11_000  # Table 1: translated ShareGPT chat per non-English language


def run_agnostic_modes(build: Any, gpu: str, seed: int, records: int | None,
                       language: str) -> dict[str, Any]:
    """The agnostic stage (judge + translator) per subset on the same hosts (SIMULATED)."""
    from benchmarks.agnostic_sim import run_subset

    engine = build.engines.translator_config()
    hosts = build.resources.num_hosts
    language = language if language != "en" else "zh"  # English is never translated
    out: dict[str, Any] = {"language": language}
    for subset in ("chat", "math", "code"):
        cfg = build.agnostic_config(subset)
        n = records or cfg.prune_size_for(subset) or cfg.limit or TABLE1_AGNOSTIC_CHAT
        t0 = time.perf_counter()
        r = asyncio.run(run_subset(engine, hosts, cfg.stage_concurrency, subset, n, language,
                                   cfg, gpu=gpu, seed=seed))
        out[subset] = r
        print(f"  agnostic {language}/{subset:<5} {n} records: occupancy {r['occupancy']:6.1%}"
              f"  {r['records_per_gpu_hour']:9.1f} records/GPU-h  makespan {r['makespan_s']:7.1f}s"
              f"  prefix hit {r['prefix_hit']}  rejects {r['rejects']}  requests "
              f"{r['requests']}  (wall {time.perf_counter() - t0:.0f}s)", flush=True)
    spans = [out[k]["makespan_s"] for k in ("chat", "math", "code")]
    out["occupancy"] = round(sum(out[k]["occupancy"] * t for k, t in zip(
        ("chat", "math", "code"), spans)) / max(1e-9, sum(spans)), 4)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(ROOT / "jobs" / "full.yaml"))
    ap.add_argument("--cluster", default=str(ROOT / "cluster.yaml"))
    ap.add_argument("--dialogues", type=int, default=None,
                    help="default: sizes.max_dialogues of the config (one language)")
    ap.add_argument("--modes", default="ours,barrier,static,agnostic",
                    help="which of ours, barrier, static (the dialogue stage) and agnostic "
                    "(judge + translator) to run (ratios need ours + the other)")
    ap.add_argument("--agnostic-records", type=int, default=None,
                    help="records per agnostic subset; default: the config's prune sizes "
                    "(math 32K, code 16K) and Table 1's 11K chat per language")
    ap.add_argument("--language", default=None,
                    help="whose sizes.max_dialogues to run and the translation target; default: "
                    "the config's first non-English language (zh: 36,000 dialogues)")
    args = ap.parse_args(argv)

    build = load_config(args.config)
    gen = build.engines.generator
    hosts = build.resources.num_hosts
    actors = build.resources.stage_actors
    spec = build.specific_config()
    language = args.language or next((x for x in build.languages if x != "en"), "en")
    n = args.dialogues or build.dialogues_for(language) or 1000
    gpu = gpu_of_cluster(Path(args.cluster))
    seed = build.seed
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    dialogue_modes = [m for m in ("ours", "barrier", "static") if m in modes]
    wl = Workload(n if dialogue_modes else 0, seed, spec.dialogue)
    turns = sum(r["turns"] for r in wl.rows) / max(1, len(wl.rows))
    cfgs = {k: engine_config(gen, gpu, k, seed) for k in ("ours", "barrier", "static")}
    print(f"{args.config}: {hosts} hosts × {gen.gpus_per_host:g} {GPUS[gpu].name} "
          f"({gen.model} shape), max_num_seqs {gen.seqs}, max_num_batched_tokens "
          f"{gen.max_num_batched_tokens}, {actors} stage actors"
          + (f"; {n} dialogues, {turns:.2f} turns each" if dialogue_modes else ""), flush=True)

    results: dict[str, dict[str, Any]] = {}
    hits: dict[str, dict[str, float]] = {}
    for name in dialogue_modes:
        rec = Recorder(name)
        extra: dict[str, Any] = {}
        cfg = cfgs[name]
        if name == "ours":
            (engines, extra), clock, wall = timed_run(
                name, lambda c=cfg, r=rec: run_ours(c, hosts, actors, wl, r))
        elif name == "barrier":
            engines, clock, wall = timed_run(
                name, lambda c=cfg, r=rec: run_barrier(c, hosts, wl, wl.rows, r))
        else:
            engines, clock, wall = timed_run(
                name, lambda c=cfg, r=rec: run_static(c, hosts, wl, r))
        r = summarize(engines, clock, n, gen.gpus_per_host, rec.last_start)
        r.update(extra)
        results[name] = r
        hits[name] = rec.by_turn()
        print(f"  {name:<8} occupancy {r['occupancy']:6.1%} (while fed "
              f"{r['occupancy_while_fed'] or 0:6.1%})  ceiling {r['ceiling_fraction']:6.1%}"
              f"  {r['dialogues_per_gpu_hour']:8.1f} dialogues/GPU-h  makespan "
              f"{r['makespan_s']:8.1f}s  preemptions {r['preemptions']}  prefix hit "
              f"{hits[name]}  (wall {wall:.0f}s)", flush=True)
    agnostic = None
    if "agnostic" in modes:
        agnostic = run_agnostic_modes(build, gpu, seed, args.agnostic_records, language)
    ours = results.get("ours")

    def ratio(other: str) -> float | None:
        if other not in results or ours is None:
            return None
        return round(ours["dialogues_per_gpu_hour"] / results[other]["dialogues_per_gpu_hour"], 2)

    def of_ours(key: str, digits: int = 4) -> float | None:
        return round(ours[key] or 0, digits) if ours is not None else None

    summary = {
        "config": "jobs/full.yaml" if Path(args.config).resolve() == (
            ROOT / "jobs" / "full.yaml").resolve() else args.config,
        "dialogues": n if ours is not None else None,
        "occupancy": of_ours("occupancy"),
        "occupancy_while_fed": of_ours("occupancy_while_fed"),
        "makespan_s": of_ours("makespan_s", 1),
        "fed_until_s": of_ours("fed_until_s", 1),
        "ceiling_fraction": of_ours("ceiling_fraction"),
        "vs_turn_barrier": ratio("barrier"),
        "vs_static": ratio("static"),
        "prefix_hit_by_turn": hits.get("ours"),
        "dialogues_per_gpu_hour": of_ours("dialogues_per_gpu_hour", 1),
        "agnostic": agnostic,
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
