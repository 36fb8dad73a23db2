"""The English SFT schemas we read (ShareGPT, OpenAI messages, MetaMathQA, GSM8K, Magicoder,
HumanEval) and how one record is matched to one of them.

A schema is known by its keys, by keys that mark a look-alike (MetaMath's GSM8K_Backward
``type`` / ``original_answer``) and by its content (GSM8K answers end ``#### N``, MetaMathQA
responses ``The answer is: N``, HumanEval prompts are Python); each also says where its user
text is, for the English check. Order matters: the first fit wins.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

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
