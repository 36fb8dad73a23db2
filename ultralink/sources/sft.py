"""English SFT readers: ShareGPT, OpenAI messages, MetaMathQA, GSM8K, Magicoder, HumanEval.

The schema is detected from the records themselves, not the file name: their keys (with keys
that mark a look-alike, e.g. MetaMath's GSM8K_Backward ``type`` / ``original_answer``), their
content (GSM8K answers end ``#### N``, MetaMathQA responses ``The answer is: N``, HumanEval
prompts are Python) and the language of their user text (English; a translated HumanEval is
not an English source). Every reader yields one :class:`~ultralink.core.records.Conversation`
form. A file that fits no schema, a mix of schemas, or a non-English file is refused with one
line naming the keys found and the schemas known; a malformed line or record is skipped with
``file:line`` and its reason, and counted.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow.parquet as pq

from ultralink.core.counters import Counters
from ultralink.core.fs import Location
from ultralink.core.records import Conversation, Turn
from ultralink.core.ids import digest

Log = Callable[[str], None]


_GSM8K_ANSWER = re.compile(r"(?m)^####[ \t]*\S")
_METAMATH_ANSWER = re.compile(r"(?i)the answer is\s*:?")
_PY_DEF = re.compile(r"(?m)^\s*(?:async\s+)?def\s+\w+\s*\(")


def _turn_list(value: object, role_key: str, text_key: str) -> str | None:
    if not isinstance(value, list) or not value:
        return "not a list of turns"
    if not all(isinstance(t, dict) and role_key in t and text_key in t for t in value):
        return f"turns lack {role_key!r}/{text_key!r}"
    return None


def _string(rec: dict, *keys: str) -> str | None:
    for k in keys:
        if not isinstance(rec.get(k), str):
            return f"{k!r} is not text"
    return None


def _check_gsm8k(rec: dict) -> str | None:
    bad = _string(rec, "question", "answer")
    if bad:
        return bad
    if not _GSM8K_ANSWER.search(rec["answer"]):
        return f"answer has no '#### <number>' line (e.g. {rec['answer'][:40]!r})"
    return None


def _check_metamath(rec: dict) -> str | None:
    bad = _string(rec, "query", "response")
    if bad:
        return bad
    if not _METAMATH_ANSWER.search(rec["response"]):
        return f"response has no 'The answer is: …' line (e.g. {rec['response'][:40]!r})"
    return None


def _check_humaneval(rec: dict) -> str | None:
    bad = _string(rec, "prompt", "canonical_solution")
    if bad:
        return bad
    if not _PY_DEF.search(rec["prompt"]):
        return "prompt holds no Python function signature"
    return None


_DOCSTRING = re.compile(r'(?s)("""|\'\'\')(.*?)(?:\1|\Z)')


def _humaneval_prose(rec: dict) -> str:
    """The English of a HumanEval prompt: its docstrings and comments, without examples."""
    prompt = str(rec.get("prompt") or "")
    parts = [m.group(2) for m in _DOCSTRING.finditer(prompt)]
    parts += [line.split("#", 1)[1] for line in prompt.splitlines()
              if "#" in line and not line.lstrip().startswith(("'", '"'))]
    lines = [ln for p in parts for ln in p.splitlines()
             if ln.strip() and not ln.lstrip().startswith(">>>") and "(" not in ln]
    return " ".join(lines)


def _first(turns: object, role_key: str, text_key: str, roles: set[str]) -> str:
    if isinstance(turns, list):
        for t in turns:
            if isinstance(t, dict) and str(t.get(role_key, "")).lower() in roles:
                return str(t.get(text_key) or "")
    return ""


@dataclass(frozen=True, slots=True)
class Schema:
    """A source format: the keys it must have, keys that mark a look-alike (another dataset
    with the same core keys), a content check and the user text whose language is checked."""

    name: str
    dataset: str
    required: frozenset[str]
    check: Callable[[dict], str | None] = lambda rec: None
    foreign: frozenset[str] = frozenset()
    prose: Callable[[dict], str] = lambda rec: ""
    hint: str = ""

    def matches(self, keys: set[str]) -> bool:
        return self.required <= keys and not (self.foreign & keys)

    def misfit(self, rec: dict) -> str | None:
        """Why ``rec`` is not a record of this schema (None: it is)."""
        keys = set(rec)
        if not self.required <= keys:
            return f"lacks {sorted(self.required - keys)}"
        if self.foreign & keys:
            return f"has {sorted(self.foreign & keys)}, which {self.name} records never have"
        return self.check(rec)

    def describe(self) -> str:
        return f"{self.name} ({', '.join(sorted(self.required))}{'; ' + self.hint if self.hint else ''})"


# Order matters: the first fit wins (most specific first).
SCHEMAS: tuple[Schema, ...] = (
    Schema("sharegpt", "sharegpt", frozenset({"conversations"}),
           lambda r: _turn_list(r.get("conversations"), "from", "value"),
           prose=lambda r: _first(r.get("conversations"), "from", "value", USER_ROLES)),
    Schema("openai", "openai-messages", frozenset({"messages"}),
           lambda r: _turn_list(r.get("messages"), "role", "content"),
           prose=lambda r: _first(r.get("messages"), "role", "content", USER_ROLES)),
    Schema("humaneval", "humaneval", frozenset({"task_id", "prompt", "canonical_solution"}),
           _check_humaneval, prose=_humaneval_prose, hint="a Python prompt"),
    Schema("metamathqa", "metamathqa", frozenset({"query", "response"}), _check_metamath,
           prose=lambda r: str(r.get("query") or ""), hint="responses end 'The answer is: …'"),
    Schema("gsm8k", "gsm8k", frozenset({"question", "answer"}), _check_gsm8k,
           # MetaMath's GSM8K_Backward (bare-number answers) and other derivatives
           foreign=frozenset({"type", "original_question", "original_answer", "query",
                              "response"}),
           prose=lambda r: str(r.get("question") or ""), hint="answers end '#### <number>'"),
    Schema("magicoder-oss", "magicoder-oss-instruct", frozenset({"problem", "solution"}),
           lambda r: _string(r, "problem", "solution"),
           prose=lambda r: str(r.get("problem") or "")),
    Schema("magicoder-evol", "magicoder-evol-instruct", frozenset({"instruction", "response"}),
           lambda r: _string(r, "instruction", "response"),
           prose=lambda r: str(r.get("instruction") or "")),
)

USER_ROLES = {"human", "user", "prompter"}
ASSISTANT_ROLES = {"gpt", "assistant", "chatgpt", "bard", "bing", "model", "bot"}
SYSTEM_ROLES = {"system"}
TOOL_ROLES = {"function_call", "observation", "tool", "function", "tool_call", "ipython"}


class SchemaError(Exception):
    """The file is not one known schema (no fit, an ambiguous mix, or not English)."""

    def __init__(self, uri: str, keys: set[str], detail: str = "") -> None:
        known = "; ".join(s.describe() for s in SCHEMAS)
        super().__init__(f"{uri}: {detail or 'records match no known schema'}; keys found: "
                         f"{', '.join(sorted(keys)) or '(none)'}; known schemas: {known}")
        self.uri = uri
        self.keys = keys


def detect_schema(keys: set[str]) -> Schema | None:
    """The first schema whose keys ``keys`` has (shape only; :func:`fit_schema` checks content)."""
    for schema in SCHEMAS:
        if schema.matches(keys):
            return schema
    return None


def fit_schema(rec: dict) -> tuple[Schema | None, dict[str, str]]:
    """The first schema ``rec`` fits by keys and content, plus why key-matching ones did not."""
    misses: dict[str, str] = {}
    for schema in SCHEMAS:
        if not schema.required <= set(rec):
            continue
        why = schema.misfit(rec)
        if why is None:
            return schema, misses
        misses[schema.name] = why
    return None, misses


# Of the sniffed records: the detected schema must fit at least this share, and no other
# schema may fit a quarter as many (else the file is a mix: refused, never guessed).
MIN_FIT_SHARE = 0.5
MAX_RIVAL_RATIO = 0.25
# The English check: records whose user text has this many letters are sampled; the file is
# refused when fewer than half of them are identified as English.
LANG_MIN_LETTERS = 24
LANG_MIN_SHARE = 0.5
_LETTERS = re.compile(r"[^\W\d_]")


def _not_english(schema: Schema, head: list[tuple[int, dict]]) -> str | None:
    """``None`` when the sampled user texts are English (or too short to tell)."""
    samples = [schema.prose(rec)[:600] for _, rec in head]
    samples = [t for t in samples if len(_LETTERS.findall(t)) >= LANG_MIN_LETTERS]
    if not samples:
        return None
    try:
        from ultralink.text.langid import LanguageIdentifier

        ident = _identifier(LanguageIdentifier)
        labels = [(ident.predict(t, k=1) or [("?", 0.0)])[0][0] for t in samples]
    except (ImportError, FileNotFoundError, OSError, ValueError):
        return None  # no fastText here: the check is skipped, never guessed
    english = sum(1 for lab in labels if lab == "en")
    if english >= LANG_MIN_SHARE * len(labels):
        return None
    top = max(set(labels), key=labels.count)
    return (f"records are not English ({top} in {labels.count(top)} of {len(labels)} sampled "
            f"{schema.name} prompts); the readers take English sources only")


_IDENTIFIERS: dict[str, object] = {}


def _identifier(cls: type) -> object:
    ident = _IDENTIFIERS.get("default")
    if ident is None:
        ident = cls()
        ident.setup()
        _IDENTIFIERS["default"] = ident
    return ident


def stable_id(*parts: str) -> str:
    """A content-derived id: same content, same id, on every machine and rerun."""
    return digest(*parts, algorithm="sha1")


# -- raw records ---------------------------------------------------------------------------

def iter_records(loc: Location, counters: Counters, log: Log) -> Iterator[tuple[int, dict]]:
    """``(line_or_index, record)`` from a JSON list, a single JSON object, JSONL or Parquet.

    Streams every form (Parquet by record batch, a JSON list element by element with ijson,
    JSONL line by line), so a 1 GB ShareGPT list never sits whole in one worker's memory; a
    file broken half-way yields its records up to the break, then raises ``ValueError``."""
    with loc.fs.open_input_file(loc.path) as f:
        head = f.read(4)
        f.seek(0)
        if head == b"PAR1":
            index = 0
            for batch in pq.ParquetFile(f).iter_batches(batch_size=1024):
                for row in batch.to_pylist():
                    yield index, row
                    index += 1
            return
        if head.startswith(BOM):
            f.seek(len(BOM))
        first = _first_char(f)
        if first == "[":
            yield from _json_list(f, loc, counters, log)
            return
        text = io.TextIOWrapper(f, encoding="utf-8", errors="replace")
        line = text.readline()
        if first == "{" and line.strip() and not _is_json(line):
            # a single (pretty-printed) JSON object
            try:
                obj = json.loads(line + text.read())
            except json.JSONDecodeError as exc:
                raise ValueError(f"{loc.uri}: invalid JSON ({exc})") from None
            yield 0, obj
            return
        lineno = 0
        while line:
            lineno += 1
            rec = _jsonl_record(line, f"{loc.uri}:{lineno}", counters, log)
            if rec is not None:
                yield lineno, rec
            line = text.readline()


BOM = b"\xef\xbb\xbf"


def _first_char(f: Any) -> str:
    """The first non-blank character of a binary file, which is then rewound to its start
    (after a BOM)."""
    start = f.tell()
    while chunk := f.read(4096):
        stripped = chunk.lstrip()
        if stripped:
            f.seek(start)
            return stripped[:1].decode("utf-8", errors="replace")
    f.seek(start)
    return ""


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def _json_list(f: Any, loc: Location, counters: Counters, log: Log
               ) -> Iterator[tuple[int, dict]]:
    import ijson

    i = -1
    try:
        for i, rec in enumerate(ijson.items(f, "item", use_float=True)):
            if isinstance(rec, dict):
                yield i, rec
            else:
                _skip(counters, log, f"{loc.uri}:{i}", "record is not an object")
    except ijson.JSONError as exc:
        raise ValueError(f"{loc.uri}: invalid JSON list after element {i} ({exc})") from None


def _jsonl_record(line: str, where: str, counters: Counters, log: Log) -> dict | None:
    if not line.strip():
        return None
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        _skip(counters, log, where, f"malformed JSON ({exc.msg})")
        return None
    if not isinstance(rec, dict):
        _skip(counters, log, where, "record is not an object")
        return None
    return rec


def _skip(counters: Counters, log: Log, where: str, reason: str) -> None:
    counters.drop("malformed")
    log(f"{where}: skipped: {reason}")


# -- conversions ---------------------------------------------------------------------------

class Dropped(Exception):
    """A record that is well-formed JSON but unusable; ``reason`` is a counter slug."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


def _turns_from_roles(pairs: list[tuple[str, object]], tool_roles: str) -> list[Turn]:
    """``tool_roles``: "skip" drops the conversation, "strip" removes the tool turns only."""
    turns: list[Turn] = []
    for role, value in pairs:
        role = (role or "").lower()
        if role in TOOL_ROLES:
            if tool_roles != "strip":
                raise Dropped("tool_roles", f"tool role {role!r}")
            continue
        if role in USER_ROLES:
            role_out = "user"
        elif role in ASSISTANT_ROLES:
            role_out = "assistant"
        elif role in SYSTEM_ROLES:
            role_out = "system"
        else:
            raise Dropped("unknown_role", f"unknown role {role!r}")
        if not isinstance(value, str) or not value.strip():
            raise Dropped("empty_turn", f"empty {role} turn")
        turns.append(Turn(role_out, value))
    return _check_alternation(turns)


def _check_alternation(turns: list[Turn]) -> list[Turn]:
    body = turns[1:] if turns and turns[0].role == "system" else turns
    if any(t.role == "system" for t in body):
        raise Dropped("roles_not_alternating", "system turn after the start")
    for i, turn in enumerate(body):
        expected = "user" if i % 2 == 0 else "assistant"
        if turn.role != expected:
            raise Dropped("roles_not_alternating", f"turn {i} is {turn.role}, expected {expected}")
    if body and body[-1].role == "user":
        body = body[:-1]  # an unanswered last question carries nothing to learn from
    if not body:
        raise Dropped("empty_conversation", "no user/assistant pair")
    return ([turns[0]] if turns[0].role == "system" else []) + body


def _text(rec: dict, key: str) -> str:
    value = rec.get(key)
    if not isinstance(value, str) or not value.strip():
        raise Dropped("empty_turn", f"empty field {key!r}")
    return value


def to_conversation(rec: dict, schema: Schema, subset: str, uri: str,
                    tool_roles: str = "skip") -> Conversation:
    """Map one record of ``schema`` to an English Conversation (id = English source id)."""
    name = schema.name
    if name == "sharegpt":
        convs = rec.get("conversations")
        if not isinstance(convs, list) or not all(isinstance(t, dict) for t in convs):
            raise Dropped("malformed", "conversations is not a list of turns")
        turns = _turns_from_roles([(t.get("from", ""), t.get("value")) for t in convs], tool_roles)
        if isinstance(rec.get("system"), str) and rec["system"].strip() and turns[0].role != "system":
            turns.insert(0, Turn("system", rec["system"]))
    elif name == "openai":
        msgs = rec.get("messages")
        if not isinstance(msgs, list) or not all(isinstance(m, dict) for m in msgs):
            raise Dropped("malformed", "messages is not a list of messages")
        turns = _turns_from_roles([(m.get("role", ""), m.get("content")) for m in msgs], tool_roles)
    elif name == "metamathqa":
        turns = [Turn("user", _text(rec, "query")), Turn("assistant", _text(rec, "response"))]
    elif name == "gsm8k":
        turns = [Turn("user", _text(rec, "question")), Turn("assistant", _text(rec, "answer"))]
    elif name == "magicoder-oss":
        turns = [Turn("user", _text(rec, "problem")), Turn("assistant", _text(rec, "solution"))]
    elif name == "magicoder-evol":
        turns = [Turn("user", _text(rec, "instruction")), Turn("assistant", _text(rec, "response"))]
    elif name == "humaneval":
        turns = [Turn("user", _text(rec, "prompt")), Turn("assistant", _text(rec, "canonical_solution"))]
    else:  # pragma: no cover - SCHEMAS and this mapping are kept in step
        raise Dropped("unknown_schema", name)
    source_id = rec.get("id") or rec.get("task_id") or rec.get("idx")
    if source_id is None or str(source_id) == "":
        source_id = stable_id(name, *(f"{t.role}:{t.content}" for t in turns))
    return Conversation(
        id=str(source_id), language="en", subset=subset, messages=turns,
        source={"dataset": schema.dataset, "id": str(source_id), "schema": name, "file": uri,
                "title": rec.get("type") if name == "metamathqa" else None},
        group=rec.get("original_question"))  # pruning only, not a column


def read_sft(loc: Location, subset: str, counters: Counters, log: Log,
             tool_roles: str = "skip", sniff: int = 50) -> Iterator[Conversation]:
    """Read one file, detect its schema from the first records, yield conversations.

    Raises :class:`SchemaError` when the records match no known schema.
    """
    records = iter_records(loc, counters, log)
    head: list[tuple[int, dict]] = []
    for item in records:
        head.append(item)
        if len(head) >= sniff:
            break
    if not head:
        counters.add("files_empty")
        log(f"{loc.uri}: no records")
        return
    keys: set[str] = set()
    votes: dict[str, int] = {}
    misses: dict[str, str] = {}
    for _, rec in head:
        keys |= set(rec)
        fit, why = fit_schema(rec)
        if fit:
            votes[fit.name] = votes.get(fit.name, 0) + 1
        for name, reason in why.items():
            misses.setdefault(name, reason)
    if not votes:
        near = "; ".join(f"not {n}: {r}" for n, r in misses.items())
        raise SchemaError(loc.uri, keys, "records match no known schema" + (
            f" ({near})" if near else ""))
    ranked = sorted(votes.items(), key=lambda kv: -kv[1])
    best, n_best = ranked[0]
    if n_best < MIN_FIT_SHARE * len(head) or (
            len(ranked) > 1 and ranked[1][1] >= MAX_RIVAL_RATIO * n_best):
        mix = ", ".join(f"{n} {v}" for n, v in ranked)
        raise SchemaError(loc.uri, keys, f"ambiguous: of {len(head)} sampled records {mix} fit "
                                         "a known schema; split the file by schema")
    schema = next(s for s in SCHEMAS if s.name == best)
    foreign = _not_english(schema, head)
    if foreign:
        raise SchemaError(loc.uri, keys, foreign)
    log(f"{loc.uri}: schema {schema.name} detected")
    counters.add(f"schema_{schema.name}", 0)

    def all_records() -> Iterator[tuple[int, dict]]:
        yield from head
        yield from records

    seen: set[str] = set()
    for where, rec in all_records():
        counters.add("read")
        why = schema.misfit(rec)
        if why is not None:
            counters.drop("schema_mismatch")
            log(f"{loc.uri}:{where}: skipped: not a {schema.name} record: {why}")
            continue
        try:
            conv = to_conversation(rec, schema, subset, loc.uri, tool_roles)
        except Dropped as exc:
            counters.drop(exc.reason)
            log(f"{loc.uri}:{where}: dropped: {exc}")
            continue
        except Exception as exc:  # one poison record must not lose the file
            counters.drop(f"error:{type(exc).__name__}")
            log(f"{loc.uri}:{where}: dropped: error:{type(exc).__name__}: {exc}")
            continue
        if conv.id in seen:
            counters.drop("duplicate_id")
            continue
        seen.add(conv.id)
        counters.add(f"schema_{schema.name}")
        yield conv
