"""English SFT readers: ShareGPT, OpenAI messages, MetaMathQA, GSM8K, Magicoder, HumanEval.

The schema is detected from the records themselves (their keys), not the file name; every
reader yields one :class:`~ultralink.records.Conversation` form. A file that matches no known
schema is rejected with the keys found and the schemas known; a malformed line or record is
skipped with ``file:line`` and its reason, and counted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow.parquet as pq

from ultralink.counters import Counters
from ultralink.fs import Location
from ultralink.records import Conversation, Turn

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Schema:
    name: str
    dataset: str
    required: frozenset[str]

    def matches(self, keys: set[str]) -> bool:
        return self.required <= keys


# Order matters: the first full match wins (most specific first).
SCHEMAS: tuple[Schema, ...] = (
    Schema("sharegpt", "sharegpt", frozenset({"conversations"})),
    Schema("openai", "openai-messages", frozenset({"messages"})),
    Schema("humaneval", "humaneval", frozenset({"task_id", "prompt", "canonical_solution"})),
    Schema("metamathqa", "metamathqa", frozenset({"query", "response"})),
    Schema("gsm8k", "gsm8k", frozenset({"question", "answer"})),
    Schema("magicoder-oss", "magicoder-oss-instruct", frozenset({"problem", "solution"})),
    Schema("magicoder-evol", "magicoder-evol-instruct", frozenset({"instruction", "response"})),
)

USER_ROLES = {"human", "user", "prompter"}
ASSISTANT_ROLES = {"gpt", "assistant", "chatgpt", "bard", "bing", "model", "bot"}
SYSTEM_ROLES = {"system"}
TOOL_ROLES = {"function_call", "observation", "tool", "function", "tool_call", "ipython"}


class SchemaError(Exception):
    """The file's records match no known schema."""

    def __init__(self, uri: str, keys: set[str]) -> None:
        known = "; ".join(f"{s.name} ({', '.join(sorted(s.required))})" for s in SCHEMAS)
        super().__init__(f"{uri}: records match no known schema; keys found: "
                         f"{', '.join(sorted(keys)) or '(none)'}; known schemas: {known}")
        self.uri = uri
        self.keys = keys


def detect_schema(keys: set[str]) -> Schema | None:
    for schema in SCHEMAS:
        if schema.matches(keys):
            return schema
    return None


def stable_id(*parts: str) -> str:
    """A content-derived id: same content, same id, on every machine and rerun."""
    h = hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()
    return h[:16]


# -- raw records ---------------------------------------------------------------------------

def iter_records(loc: Location, counters: Counters, log: Log) -> Iterator[tuple[int, dict]]:
    """``(line_or_index, record)`` from a JSON list, a single JSON object, JSONL or Parquet."""
    with loc.fs.open_input_file(loc.path) as f:
        head = f.read(4)
        f.seek(0)
        if head == b"PAR1":
            table = pq.read_table(f)
            for i, row in enumerate(table.to_pylist()):
                yield i, row
            return
        raw = f.read()
    text = raw.decode("utf-8-sig", errors="replace")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{loc.uri}: invalid JSON list ({exc})") from None
        for i, rec in enumerate(data):
            if isinstance(rec, dict):
                yield i, rec
            else:
                _skip(counters, log, f"{loc.uri}:{i}", "record is not an object")
        return
    lines = text.splitlines()
    if stripped.startswith("{") and lines:
        try:
            json.loads(lines[0])
        except json.JSONDecodeError:
            try:  # a single (pretty-printed) JSON object
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{loc.uri}: invalid JSON ({exc})") from None
            yield 0, obj
            return
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            _skip(counters, log, f"{loc.uri}:{lineno}", f"malformed JSON ({exc.msg})")
            continue
        if not isinstance(rec, dict):
            _skip(counters, log, f"{loc.uri}:{lineno}", "record is not an object")
            continue
        yield lineno, rec


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
                "title": rec.get("type") if name == "metamathqa" else None,
                "original_question": rec.get("original_question")})  # pruning only, not a column


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
    for _, rec in head:
        keys |= set(rec)
        schema = detect_schema(set(rec))
        if schema:
            votes[schema.name] = votes.get(schema.name, 0) + 1
    if not votes:
        raise SchemaError(loc.uri, keys)
    schema = next(s for s in SCHEMAS if s.name == max(votes, key=votes.get))
    log(f"{loc.uri}: schema {schema.name} detected")
    counters.add(f"schema_{schema.name}", 0)

    def all_records() -> Iterator[tuple[int, dict]]:
        yield from head
        yield from records

    seen: set[str] = set()
    for where, rec in all_records():
        counters.add("read")
        if not schema.matches(set(rec)):
            counters.drop("schema_mismatch")
            log(f"{loc.uri}:{where}: skipped: keys {sorted(rec)} do not match {schema.name}")
            continue
        try:
            conv = to_conversation(rec, schema, subset, loc.uri, tool_roles)
        except Dropped as exc:
            counters.drop(exc.reason)
            log(f"{loc.uri}:{where}: dropped: {exc}")
            continue
        if conv.id in seen:
            counters.drop("duplicate_id")
            continue
        seen.add(conv.id)
        counters.add(f"schema_{schema.name}")
        yield conv
