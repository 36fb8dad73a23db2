"""English SFT readers: every schema, every bad-schema case, malformed lines with file:line."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ultralink.core.counters import Counters
from ultralink.core.fs import resolve
from ultralink.sources.sft import SchemaError, read_sft


def read(path, subset="chat", **kw):
    counters, lines = Counters(), []
    convs = list(read_sft(resolve(str(path)), subset, counters, lines.append, **kw))
    return convs, counters, lines


def write_jsonl(path, records):
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    return path


SHAREGPT = [
    {"id": "a1", "conversations": [{"from": "human", "value": "What is 2+2?"},
                                   {"from": "gpt", "value": "4."}]},
    {"id": "a2", "conversations": [{"from": "system", "value": "Be brief."},
                                   {"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"},
                                   {"from": "human", "value": "Bye"}]},
    {"conversations": [{"from": "human", "value": "No id here"}, {"from": "gpt", "value": "Fine"}]},
    {"id": "t1", "conversations": [{"from": "human", "value": "weather?"},
                                   {"from": "function_call", "value": "{\"name\": \"w\"}"},
                                   {"from": "observation", "value": "sunny"},
                                   {"from": "gpt", "value": "Sunny"}]},
    {"id": "e1", "conversations": [{"from": "human", "value": ""}, {"from": "gpt", "value": "x"}]},
    {"id": "r1", "conversations": [{"from": "human", "value": "a"}, {"from": "human", "value": "b"}]},
]


def test_sharegpt_json_list(tmp_path):
    p = tmp_path / "sg.json"
    p.write_text(json.dumps(SHAREGPT), encoding="utf-8")
    convs, counters, lines = read(p)
    ids = [c.id for c in convs]
    assert ids[:2] == ["a1", "a2"] and len(ids) == 3
    a2 = convs[1]
    assert [t.role for t in a2.messages] == ["system", "user", "assistant"]  # unanswered tail trimmed
    assert counters.dropped() == {"tool_roles": 1, "empty_turn": 1, "roles_not_alternating": 1}
    assert any("schema sharegpt detected" in line for line in lines)
    # derived ids are stable across reads
    assert read(p)[0][2].id == convs[2].id and len(convs[2].id) == 16


def test_sharegpt_tool_turns_can_be_stripped(tmp_path):
    p = write_jsonl(tmp_path / "sg.jsonl", SHAREGPT[3:4])
    convs, _, _ = read(p, tool_roles="strip")
    assert len(convs) == 1


def test_sharegpt_single_object_and_system_field(tmp_path):
    p = tmp_path / "one.json"
    p.write_text(json.dumps({"id": "x", "system": "You are kind.", "conversations": SHAREGPT[0]["conversations"]},
                            indent=2), encoding="utf-8")
    convs, _, _ = read(p)
    assert [t.role for t in convs[0].messages] == ["system", "user", "assistant"]


def test_openai_messages(tmp_path):
    p = write_jsonl(tmp_path / "oa.jsonl", [{"messages": [{"role": "user", "content": "Hi"},
                                                          {"role": "assistant", "content": "Hey"}]}])
    convs, _, _ = read(p)
    assert convs[0].source["schema"] == "openai"


@pytest.mark.parametrize("records,schema,subset", [
    ([{"query": "1+1?", "response": "2. The answer is: 2", "type": "GSM_Rephrased",
       "original_question": "1+1"}], "metamathqa", "math"),
    ([{"question": "1+1?", "answer": "1+1=<<1+1=2>>2\n#### 2"}], "gsm8k", "math"),
    ([{"problem": "Write f", "solution": "def f(): pass"}], "magicoder-oss", "code"),
    ([{"instruction": "Write g", "response": "def g(): pass"}], "magicoder-evol", "code"),
    ([{"task_id": "HumanEval/0", "prompt": "def f():\n", "canonical_solution": "  return 1\n",
       "test": "assert f()", "entry_point": "f"}], "humaneval", "code"),
])
def test_math_and_code_schemas(tmp_path, records, schema, subset):
    convs, _, _ = read(write_jsonl(tmp_path / "x.jsonl", records), subset)
    assert convs[0].source["schema"] == schema and convs[0].subset == subset
    assert [t.role for t in convs[0].messages] == ["user", "assistant"]


def test_parquet_with_known_columns(tmp_path):
    p = tmp_path / "m.parquet"
    pq.write_table(pa.table({"query": ["q1", "q2"], "response": ["r1. The answer is: 1",
                                                                 "r2. The answer is: 2"]}), p)
    convs, _, _ = read(p, "math")
    assert [c.messages[0].content for c in convs] == ["q1", "q2"]
    assert convs[0].id != convs[1].id


def test_unknown_schema_names_file_keys_and_known(tmp_path):
    p = write_jsonl(tmp_path / "odd.jsonl", [{"foo": 1, "bar": 2}])
    with pytest.raises(SchemaError) as err:
        read(p)
    msg = str(err.value)
    assert "odd.jsonl" in msg and "bar, foo" in msg and "sharegpt" in msg and "gsm8k" in msg


def test_malformed_line_is_skipped_with_file_and_line(tmp_path):
    p = tmp_path / "g.jsonl"
    p.write_text('{"question": "a?", "answer": "#### 1"}\n{not json\n{"question": "b?", "answer": "#### 2"}\n')
    convs, counters, lines = read(p, "math")
    assert len(convs) == 2
    assert counters.dropped() == {"malformed": 1}
    assert any("g.jsonl:2" in line for line in lines)


@pytest.mark.parametrize("first", ['{"id": "x", "conversations": [{"from": "human"',
                                   '{not json at all', '{"question": "a?", "answer": "#### 1"}}'])
def test_a_malformed_first_line_costs_only_itself(tmp_path, first):
    good = [{"question": f"q{i}?", "answer": f"#### {i}"} for i in range(20)]
    p = tmp_path / "first.jsonl"
    p.write_text(first + "\n" + "".join(json.dumps(r) + "\n" for r in good), encoding="utf-8")
    convs, counters, lines = read(p, "math")
    assert len(convs) == 20
    assert counters.dropped() == {"malformed": 1}
    assert any("first.jsonl:1: skipped: malformed JSON" in line for line in lines)


def test_pretty_printed_object_with_compact_inner_objects(tmp_path):
    p = tmp_path / "one.json"
    p.write_text('{\n  "id": "x",\n  "conversations": [\n    {"from": "human", "value": "Hi"},\n'
                 '    {"from": "gpt", "value": "Hello"}\n  ]\n}\n', encoding="utf-8")
    convs, counters, _ = read(p)
    assert len(convs) == 1 and counters.dropped() == {}


def test_record_not_matching_detected_schema(tmp_path):
    p = write_jsonl(tmp_path / "mix.jsonl", [{"question": "a", "answer": "b\n#### 1"}] * 3
                    + [{"foo": 1}])
    convs, counters, lines = read(p, "math")
    assert len(convs) == 1  # identical records share a content id: duplicates dropped
    assert counters.dropped() == {"duplicate_id": 2, "schema_mismatch": 1}


def test_real_samples(shared_samples):
    convs, counters, _ = read(shared_samples / "fastchat_dummy_conversation.json")
    assert len(convs) > 400 and convs[0].source["schema"] == "sharegpt"
    gsm, _, _ = read(shared_samples / "gsm8k_test.jsonl", "math")
    assert len(gsm) == 1319 and gsm[0].messages[1].content.rstrip().split("#### ")[-1].strip().isdigit()
    he, _, _ = read(shared_samples / "humaneval_en.jsonl", "code")
    assert len(he) == 164 and he[0].id == "HumanEval/0"


# -- schemas by shape and content (issue 12) ------------------------------------------------

GSM8K_BACKWARD = [  # meta-math/GSM8K_Backward: GSM8K's keys, bare-number answers, extra keys
    {"question": f"Janet's ducks lay X eggs per day. She eats three. If she makes {18 + i} "
                 "dollars, what is the value of the unknown variable X?",
     "answer": str(16 + i), "original_question": "Janet's ducks lay 16 eggs per day.",
     "original_answer": "#### 18", "type": "GSM_FOBAR"} for i in range(5)]


def test_gsm8k_backward_is_not_taken_as_gsm8k(tmp_path):
    with pytest.raises(SchemaError) as err:
        read(write_jsonl(tmp_path / "GSM8K_Backward.jsonl", GSM8K_BACKWARD), "math")
    msg = str(err.value)
    assert "\n" not in msg and "GSM8K_Backward.jsonl" in msg
    assert "keys found: answer, original_answer, original_question, question, type" in msg
    assert "gsm8k (answer, question; answers end '#### <number>')" in msg
    # the content alone (bare numbers, no extra keys) is refused too
    bare = [{"question": r["question"], "answer": r["answer"]} for r in GSM8K_BACKWARD]
    with pytest.raises(SchemaError, match="answer has no '#### <number>' line"):
        read(write_jsonl(tmp_path / "bare.jsonl", bare), "math")


def test_a_mix_of_schemas_is_refused_not_guessed(tmp_path):
    gsm = [{"question": f"q{i}?", "answer": f"x\n#### {i}"} for i in range(3)]
    mm = [{"query": f"m{i}?", "response": f"y. The answer is: {i}"} for i in range(2)]
    with pytest.raises(SchemaError, match=r"ambiguous: of 5 sampled records gsm8k 3, "
                                          r"metamathqa 2 fit"):
        read(write_jsonl(tmp_path / "mix.jsonl", gsm + mm), "math")


HUMANEVAL_FR = [
    {"task_id": f"HumanEval/{i}", "entry_point": "f", "test": "def check(c): pass",
     "prompt": f"def f{i}(numbers: list) -> bool:\n    \"\"\" Vérifiez si, dans la liste donnée "
               "de nombres, deux nombres sont plus proches l'un de l'autre que le seuil donné.\n"
               f"    >>> f{i}([1.0, 2.0], 0.5)\n    False\n    \"\"\"\n",
     "canonical_solution": "    return False\n"} for i in range(4)]


def test_non_english_humaneval_is_not_an_english_source(tmp_path):
    pytest.importorskip("fasttext")
    with pytest.raises(SchemaError) as err:
        read(write_jsonl(tmp_path / "humaneval_fr.jsonl", HUMANEVAL_FR), "code")
    msg = str(err.value)
    assert "not English (fr in 4 of 4 sampled humaneval prompts)" in msg
    assert "keys found: canonical_solution, entry_point, prompt, task_id, test" in msg


def test_real_samples_keep_their_schema_and_language(shared_samples):
    """The real GSM8K / HumanEval files pass the content and language checks whole."""
    pytest.importorskip("fasttext")
    gsm, counters, _ = read(shared_samples / "gsm8k_test.jsonl", "math")
    assert len(gsm) == 1319 and counters.dropped() == {}
    he, counters, _ = read(shared_samples / "humaneval_en.jsonl", "code")
    assert len(he) == 164 and counters.dropped() == {}


def test_a_json_list_streams_record_by_record(tmp_path):
    """A big ShareGPT list is parsed element by element (ijson): a file cut off half-way
    still yields every record before the cut, then names the file."""
    from ultralink.sources.sft_records import iter_records

    rec = {"id": "x", "conversations": [{"from": "human", "value": "Hi " * 50},
                                         {"from": "gpt", "value": "Hello " * 50}]}
    body = ",".join(json.dumps({**rec, "id": f"r{i}"}) for i in range(2000))
    path = tmp_path / "big.json"
    path.write_bytes(b"\xef\xbb\xbf  \n[" + body.encode() + b", {\"id\": \"cut")
    got, lines = [], []
    with pytest.raises(ValueError, match="big.json: invalid JSON list after element 1999"):
        for i, r in iter_records(resolve(str(path)), Counters(), lines.append):
            got.append(r["id"])
    assert got == [f"r{i}" for i in range(2000)]
    # numbers come back as plain floats/ints, as json.loads gives them
    path.write_text('[{"id": 1, "score": 0.5}, 7]')
    c = Counters()
    assert [r for _, r in iter_records(resolve(str(path)), c, lines.append)] == [
        {"id": 1, "score": 0.5}]
    assert c.dropped() == {"malformed": 1} and "record is not an object" in lines[-1]


@pytest.mark.parametrize("form", ["jsonl", "jsonl_first", "list", "parquet", "object"])
def test_a_record_over_the_size_cap_is_dropped_with_its_size(tmp_path, form):
    """Every form caps its records: the big one is dropped with where and how big, the
    others read (the cap is small here; the default is the XML readers' 64 MiB)."""
    good = [{"question": f"q{i}?", "answer": f"#### {i}"} for i in range(5)]
    big = {"question": "x" * 5000 + "?", "answer": "#### 9"}
    rows = [good[0], big, *good[1:]] if form != "jsonl_first" else [big, *good]
    path = tmp_path / f"caps.{form}"
    if form.startswith("jsonl"):
        write_jsonl(path, rows)
    elif form == "list":
        path.write_text(json.dumps(rows))
    elif form == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        path.write_text(json.dumps(big, indent=2))
    convs, counters, lines = read(path, "math", max_bytes=1000)
    assert counters.dropped() == {"too_large": 1}
    assert len(convs) == (0 if form == "object" else 5)
    where = {"jsonl": ":2", "jsonl_first": ":1", "list": ":1", "parquet": ":1", "object": ":1"}
    assert any(f"caps.{form}{where[form]}: skipped: record of" in line and
               "over the cap of 1,000 (max_record_bytes)" in line for line in lines), lines
