"""One SFT record → one English :class:`~ultralink.core.records.Conversation`, per schema.

Every schema's roles and fields map onto one conversation form (system? then user/assistant
turns alternating, ending with an answer); a record that cannot is dropped with a counter
slug (``tool_roles``, ``unknown_role``, ``empty_turn``, ``roles_not_alternating``, …).
"""

from __future__ import annotations

from ultralink.core.ids import digest
from ultralink.core.records import Conversation, Turn
from ultralink.sources.sft_schemas import (ASSISTANT_ROLES, SYSTEM_ROLES, TOOL_ROLES, USER_ROLES,
                                          Schema)


def stable_id(*parts: str) -> str:
    """A content-derived id: same content, same id, on every machine and rerun."""
    return digest(*parts, algorithm="sha1")


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
