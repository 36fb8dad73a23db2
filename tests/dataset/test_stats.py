"""ultralink.dataset.stats: Table 1 / Table 2 / Figure 13 numbers on a hand-made dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ultralink.core.fs import resolve
from ultralink.core.records import Conversation, Turn, conversation_schema
from ultralink.dataset.stats import (
    Counts,
    compute_stats,
    dataset_parts,
    format_tables,
    render_figure,
    split_turns,
    strip_document,
    write_stats,
)

DOC = "<document>\n" + "Wikipedia text about something long. " * 40 + "\n</document>\n"


def words(n: int) -> str:
    """A text of exactly ``n`` cl100k tokens ("hello hello …")."""
    return " ".join(["hello"] * n)


def conv(cid: str, lang: str, subset: str, turns: list[tuple[str, str]], system: str | None = None) -> dict:
    msgs = [Turn("system", system)] if system else []
    for q, a in turns:
        msgs += [Turn("user", q), Turn("assistant", a)]
    return Conversation(cid, lang, subset, msgs, source={"dataset": "test", "id": cid},
                        meta={"question_kinds": ["initial"] * len(turns)}).to_row()


def write_part(root: Path, lang: str, subset: str, name: str, rows: list[dict]) -> Path:
    path = root / lang / subset / name
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=conversation_schema()), path)
    return path


def make_dataset(root: Path) -> dict[str, list[dict]]:
    """A small dataset with known token counts; returns rows per ``lang_subset``.

    zh/chat_specific: 2 dialogues, 3 turns; questions 3+2+4 (document excluded), answers 5+4+6
    zh/chat_agnostic: 1 dialogue with a system message, 1 turn; q 7, a 9
    en/math:          1 dialogue, 1 turn; q 10, a 20
    fr/code:          3 dialogues over 2 part files, 1 turn each; q 1, a 2 each
    """
    data = {
        "zh_chat_specific": [
            conv("zh_chat_specific_bbb", "zh", "chat_specific",
                 [(DOC + words(3), words(5)), (words(2), words(4))]),
            conv("zh_chat_specific_aaa", "zh", "chat_specific", [(DOC + words(4), words(6))]),
        ],
        "zh_chat_agnostic": [conv("zh_chat_agnostic_x", "zh", "chat_agnostic", [(words(7), words(9))],
                                  system="You are helpful.")],
        "en_math": [conv("en_math_1", "en", "math", [(words(10), words(20))])],
        "fr_code": [conv(f"fr_code_{c}", "fr", "code", [(words(1), words(2))]) for c in "cab"],
    }
    write_part(root, "zh", "chat_specific", "part-00000.parquet", data["zh_chat_specific"])
    write_part(root, "zh", "chat_agnostic", "part-00000.parquet", data["zh_chat_agnostic"])
    write_part(root, "en", "math", "part-00000.parquet", data["en_math"])
    write_part(root, "fr", "code", "part-00001.parquet", data["fr_code"][:2])
    write_part(root, "fr", "code", "part-00000.parquet", data["fr_code"][2:])
    # bookkeeping that must be ignored
    (root / "zh" / "chat_specific" / "_manifest.json").write_text("{}")
    (root / "zh" / "chat_specific" / "_units").mkdir()
    (root / "zh" / "chat_specific" / "_units" / "u1.json").write_text("{}")
    write_part(root, "zh", "chat_specific", "_units/stray.parquet", data["zh_chat_specific"])
    (root / "figures").mkdir()
    return data


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "out"
    make_dataset(root)
    return root


def test_strip_document():
    assert strip_document(DOC + "Why?") == ("Why?", True)
    assert strip_document("Why?") == ("Why?", False)
    assert strip_document("<document> unterminated") == ("<document> unterminated", False)


def test_split_turns_counts_what_does_not_pair():
    qs, as_, c = [], [], Counts()
    split_turns(["system", "user", "assistant", "user"], ["s", "q", "a", "dangling"], False, qs, as_, c)
    assert (qs, as_) == (["q"], ["a"])
    assert (c.dialogues, c.turns, c.system_messages, c.unpaired_messages) == (1, 1, 1, 1)


def test_dataset_parts_skips_bookkeeping(dataset: Path):
    groups = dataset_parts(resolve(str(dataset)))
    assert list(groups) == [("en", "math"), ("zh", "chat_specific"), ("zh", "chat_agnostic"),
                            ("fr", "code")]                      # paper order of languages
    assert [p.path.rsplit("/", 1)[-1] for p in groups[("fr", "code")]] == [
        "part-00000.parquet", "part-00001.parquet"]
    assert len(groups[("zh", "chat_specific")]) == 1


def test_table1(dataset: Path):
    s = compute_stats(str(dataset))
    assert s["languages"] == ["en", "zh", "fr"]
    assert s["subsets"] == ["chat_specific", "chat_agnostic", "math", "code"]
    t1 = s["table1"]
    assert t1["languages"]["zh"] == {"chat_specific": 2, "chat_agnostic": 1, "math": 0, "code": 0, "total": 3}
    assert t1["languages"]["fr"]["code"] == 3
    assert t1["UltraLink"] == {"chat_specific": 2, "chat_agnostic": 1, "math": 1, "code": 3, "total": 7}
    assert t1["w/o En"] == {"chat_specific": 2, "chat_agnostic": 1, "math": 0, "code": 3, "total": 6}


def test_table2_token_averages_exclude_the_document(dataset: Path):
    s = compute_stats(str(dataset))
    t2 = s["table2"]
    spec = t2["by_language_subset"]["zh"]["chat_specific"]
    assert (spec["dialogues"], spec["turns"]) == (2, 3)
    assert (spec["question_tokens"], spec["answer_tokens"]) == (9, 15)
    assert spec["avg_question"] == 3.0 and spec["avg_answer"] == 5.0 and spec["avg_turn"] == 8.0
    overall = t2["overall"]
    # turns: 3 + 1 + 1 + 3 = 8; questions 9 + 7 + 10 + 3 = 29; answers 15 + 9 + 20 + 6 = 50
    assert (overall["dialogues"], overall["turns"]) == (7, 8)
    assert (overall["question_tokens"], overall["answer_tokens"]) == (29, 50)
    assert overall["avg_question"] == round(29 / 8, 2) and overall["avg_answer"] == 6.25
    assert overall["avg_turn"] == round(29 / 8 + 50 / 8, 2)
    assert overall["turns_per_dialogue"] == round(8 / 7, 3)
    assert t2["w/o En"]["turns"] == 7
    assert s["figure13"]["zh"] == {"question": 4.0, "answer": 6.0}      # (9+7)/4, (15+9)/4
    assert s["figure13"]["en"] == {"question": 10.0, "answer": 20.0}
    assert s["checks"]["system_messages"] == 1
    assert s["checks"]["missing_document"] == 0 and s["checks"]["mismatched_rows"] == 0


def test_workers_give_the_same_numbers(dataset: Path):
    one = compute_stats(str(dataset))
    two = compute_stats(str(dataset), workers=2, batch_rows=1)
    for key in ("table1", "table2", "figure13", "checks"):
        assert one[key] == two[key]


def test_filters_and_checks(tmp_path: Path):
    root = tmp_path / "out"
    make_dataset(root)
    # a chat_specific dialogue without its document, filed under the wrong language folder
    write_part(root, "ru", "chat_specific", "part-00000.parquet",
               [conv("x", "zh", "chat_specific", [(words(2), words(2))])])
    s = compute_stats(str(root), languages=["ru"])
    assert s["languages"] == ["ru"] and s["table1"]["UltraLink"]["total"] == 1
    assert s["checks"]["missing_document"] == 1 and s["checks"]["mismatched_rows"] == 1
    assert "missing_document=1" in format_tables(s)


def test_format_tables(dataset: Path):
    text = format_tables(compute_stats(str(dataset)))
    lines = text.splitlines()
    assert lines[0].startswith("Table 1")
    header = lines[1]
    for h in ("Lang.", "Chat (specific)", "Chat (agnostic)", "Math", "Code", "Total"):
        assert h in header
    assert set(lines[2]) == {"-"}
    row = {ln.split()[0]: ln.split()[1:] for ln in lines[3:7]}
    assert list(row) == ["En", "Zh", "Fr", "UltraLink"]
    assert row["Zh"] == ["2", "1", "0", "0", "3"]
    assert row["UltraLink"] == ["2", "1", "1", "3", "7"]
    assert lines[7].startswith("w/o En") and lines[7].split()[2:] == ["2", "1", "0", "3", "6"]
    assert len({len(ln) for ln in lines[1:8]}) == 1          # aligned columns
    assert "Table 2" in text and "UltraLink (this build)" in text and "UltraLink (paper)" in text
    t2 = next(ln for ln in lines if ln.startswith("zh / chat_specific"))
    assert t2.split()[3:] == ["2", "3", "3.00", "5.00", "8.00"]
    md = format_tables(compute_stats(str(dataset)), markdown=True)
    assert "| Zh | 2 | 1 | 0 | 0 | 3 |" in md


def test_write_stats_local(dataset: Path):
    s = write_stats(str(dataset))
    on_disk = json.loads((dataset / "stats.json").read_text())
    assert on_disk["table1"] == s["table1"]
    png = (dataset / "figures" / "token_lengths.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_render_figure_empty_language_set():
    s = {"languages": [], "figure13": {}, "encoding": "cl100k_base"}
    assert render_figure(s)[:4] == b"\x89PNG"


def test_stats_on_s3(tmp_path: Path, s3_env: str):
    import os

    import boto3

    local = tmp_path / "out"
    make_dataset(local)
    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    for p in local.rglob("*"):
        if p.is_file():
            client.upload_file(str(p), s3_env, "ds/" + p.relative_to(local).as_posix())
    uri = f"s3://{s3_env}/ds"
    s = write_stats(uri)
    assert s["table1"]["UltraLink"]["total"] == 7
    assert s["table2"]["overall"]["question_tokens"] == 29
    png = client.get_object(Bucket=s3_env, Key="ds/figures/token_lengths.png")["Body"].read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    body = json.loads(client.get_object(Bucket=s3_env, Key="ds/stats.json")["Body"].read())
    assert body["source"] == uri


def test_cli(dataset: Path, capsys):
    from ultralink.cli import main

    assert main(["stats", str(dataset), "--no-write"]) == 0
    out = capsys.readouterr().out
    assert "Table 1" in out and "Table 2" in out
    assert not (dataset / "stats.json").exists()
    assert main(["stats", str(dataset), "--card"]) == 0
    assert (dataset / "stats.json").exists() and (dataset / "README.md").exists()
    assert (dataset / "figures" / "token_lengths.png").exists()
    assert main(["stats", str(dataset / "nothing-here"), "--no-write"]) == 1
