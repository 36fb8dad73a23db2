"""Dialogue prompts from ``prompts/<lang>.yaml``, rendered with the shared prefix first.

Every request of a dialogue starts with the same bytes, so an engine's prefix cache serves
all of its turns (and, for the part before the document, every dialogue of the job)::

    {dialogue.system}
    <principles kind="initial_question"> 1. … </principles>      all four parts, every turn
    <principles kind="answer"> … </principles>
    <principles kind="in_depth_question"> … </principles>
    <principles kind="expansive_question"> … </principles>
    [few-shot examples, completion-format base models only]
    <document>{segment}</document>                                 per dialogue
    {user_label}: …\\n{assistant_label}: …                          history so far
    <task kind="…">{instruction of this part}                     the short ask, naming
    {principles_note: follow <principles kind="…">}</task>          the principle set

Chat models get the part up to the principles as the system message and the rest as one user
message. Base (completion) models get one plain prompt: the examples from the YAML rendered as
earlier ``<document>`` + labelled dialogues, then the real document and history, ending with
the speaker label the model must continue (``User:`` for a question, ``Assistant:`` for an
answer), and stop strings at the next label. A new language is one YAML file: nothing here
names a language.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from ultralink.core.bundled import prompts_dir
from ultralink.core.languages import get_language
from ultralink.llm.escape import escape_tags, tag_names
from ultralink.llm.types import ChatRequest, Message, SamplingParams

PROMPTS_DIR = prompts_dir()

QuestionKind = Literal["initial", "in_depth", "expansive"]
QUESTION_KINDS: tuple[str, ...] = ("initial", "in_depth", "expansive")
# YAML part per turn: the three question kinds, and one part for every answer.
PART_OF_KIND = {"initial": "initial_question", "in_depth": "in_depth_question",
                "expansive": "expansive_question", "answer": "answer"}
PARTS = ("initial_question", "answer", "in_depth_question", "expansive_question")


class PromptFileError(ValueError):
    """A prompt file is missing, unreadable, or lacks a key; names the file and the key."""


@dataclass(frozen=True, slots=True)
class Part:
    instruction: str
    principles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExampleTurn:
    kind: str
    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class Example:
    document: str
    turns: tuple[ExampleTurn, ...]


@dataclass(frozen=True, slots=True)
class ValidationRules:
    role_labels: tuple[str, ...]
    leakage_phrases: tuple[str, ...]
    question_marks: tuple[str, ...]
    min_question_chars: int
    min_answer_chars: int
    # regexes (case-insensitive): references to the unseen document, and meta talk/preambles
    leakage_patterns: tuple[str, ...] = ()
    meta_patterns: tuple[str, ...] = ()
    refusal_patterns: tuple[str, ...] = ()   # the file's quality.refusal_patterns


@dataclass(frozen=True, slots=True)
class DialoguePrompts:
    """Everything one language's dialogue generation says to a model, as loaded data."""

    language: str
    version: str
    path: str
    system: str
    document_open: str
    document_close: str
    user_label: str
    assistant_label: str
    parts: dict[str, Part]
    examples: tuple[Example, ...]
    validation: ValidationRules
    # names the principle set of the task's turn; ``{kind}`` is replaced by the part
    principles_note: str = ""


class _Reader:
    """Typed access to nested YAML keys with errors that name the file and the dotted key."""

    def __init__(self, path: str, data: Any) -> None:
        self.path = path
        self.data = data

    def get(self, key: str, kind: type | tuple[type, ...] = str, node: Any = None,
            where: str = "") -> Any:
        node = self.data if node is None else node
        full = f"{where}.{key}" if where else key
        if not isinstance(node, dict) or key not in node:
            raise PromptFileError(f"{self.path}: missing key {full!r}")
        value = node[key]
        if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # version: 1 (unquoted) is still a version
        if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise PromptFileError(f"{self.path}: key {full!r} must be {names}, got "
                                  f"{type(value).__name__}")
        if isinstance(value, str) and not value.strip():
            raise PromptFileError(f"{self.path}: key {full!r} is empty")
        return value

    def strings(self, key: str, node: Any, where: str) -> tuple[str, ...]:
        values = self.get(key, list, node, where)
        full = f"{where}.{key}"
        if not values:
            raise PromptFileError(f"{self.path}: key {full!r} is an empty list")
        out = []
        for i, v in enumerate(values):
            if not isinstance(v, str) or not v.strip():
                raise PromptFileError(f"{self.path}: key {full}[{i}] must be a non-empty string")
            out.append(v.strip())
        return tuple(out)


def load_prompts(language: str, prompts_dir: str | Path | None = None) -> DialoguePrompts:
    """Load and check ``<prompts_dir>/<language>.yaml`` (default: the bundled prompts/)."""
    get_language(language)
    path = Path(prompts_dir or PROMPTS_DIR) / f"{language}.yaml"
    shown = str(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise PromptFileError(f"{shown}: prompt file not found for language {language!r}") from None
    except yaml.YAMLError as exc:
        raise PromptFileError(f"{shown}: not valid YAML: {exc}") from None
    r = _Reader(shown, data)
    if not isinstance(data, dict):
        raise PromptFileError(f"{shown}: expected a mapping at the top level")
    file_lang = r.get("language")
    if file_lang != language:
        raise PromptFileError(f"{shown}: key 'language' is {file_lang!r}, expected {language!r}")
    d = r.get("dialogue", dict)
    parts = {}
    for part in PARTS:
        node = r.get(part, dict, d, "dialogue")
        parts[part] = Part(instruction=r.get("instruction", str, node, f"dialogue.{part}").strip(),
                           principles=r.strings("principles", node, f"dialogue.{part}"))
    examples = []
    for i, ex in enumerate(r.get("examples", list, d, "dialogue")):
        where = f"dialogue.examples[{i}]"
        turns = []
        for j, t in enumerate(r.get("turns", list, ex, where)):
            tw = f"{where}.turns[{j}]"
            kind = r.get("kind", str, t, tw)
            if kind not in QUESTION_KINDS:
                raise PromptFileError(f"{shown}: key {tw}.kind is {kind!r}; expected one of "
                                      f"{', '.join(QUESTION_KINDS)}")
            turns.append(ExampleTurn(kind, r.get("question", str, t, tw).strip(),
                                     r.get("answer", str, t, tw).strip()))
        examples.append(Example(r.get("document", str, ex, where).strip(), tuple(turns)))
    v = r.get("validation", dict)
    rules = ValidationRules(
        role_labels=r.strings("role_labels", v, "validation"),
        leakage_phrases=tuple(p.lower() for p in r.strings("leakage_phrases", v, "validation")),
        question_marks=r.strings("question_marks", v, "validation"),
        min_question_chars=r.get("min_question_chars", int, v, "validation"),
        min_answer_chars=r.get("min_answer_chars", int, v, "validation"),
        leakage_patterns=_optional_strings(r, "leakage_patterns", v),
        meta_patterns=_optional_strings(r, "meta_patterns", v),
        refusal_patterns=_optional_strings(r, "refusal_patterns", data.get("quality") or {}),
    )
    return DialoguePrompts(
        language=language, version=r.get("version"), path=shown,
        system=r.get("system", str, d, "dialogue").strip(),
        document_open=r.get("document_open", str, d, "dialogue"),
        document_close=r.get("document_close", str, d, "dialogue"),
        user_label=r.get("user_label", str, d, "dialogue").strip(),
        assistant_label=r.get("assistant_label", str, d, "dialogue").strip(),
        parts=parts, examples=tuple(examples), validation=rules,
        principles_note=(r.get("principles_note", str, d, "dialogue").strip()
                         if "principles_note" in d else ""))


def _optional_strings(r: _Reader, key: str, node: dict) -> tuple[str, ...]:
    """A list key a prompt file may leave out (older files, test fixtures)."""
    return r.strings(key, node, "validation") if key in node else ()


# --------------------------------------------------------------------------------- rendering


def speaker_prefix(label: str, role_labels: tuple[str, ...]) -> str:
    """``label`` with the colon the language writes: the role label that is ``label`` plus a
    colon ("问：", "Utilisateur :"), else ``label + ":"``."""
    for r in role_labels:
        if r.startswith(label) and r[len(label):].strip(" \u00a0\u202f") in (":", "："):
            return r
    return label + ":"


def _line(prefix: str, text: str) -> str:
    return prefix + text if prefix.endswith("：") else f"{prefix} {text}"

PromptFormat = Literal["chat", "completion"]


@dataclass(frozen=True, slots=True)
class Turn:
    """One finished question–answer pair of the history."""

    question: str
    answer: str


class PromptBuilder:
    """Builds the request for the next turn of a dialogue, shared prefix first.

    Args:
        prompts: the language's loaded prompt file.
        prompt_format: ``"chat"`` (instruct models: system + one user message) or
            ``"completion"`` (base models: one few-shot prompt ending at a speaker label).
        num_examples: few-shot examples shown to completion-format models.
    """

    def __init__(self, prompts: DialoguePrompts, prompt_format: PromptFormat = "chat",
                 num_examples: int = 2) -> None:
        self.p = prompts
        self.user = speaker_prefix(prompts.user_label, prompts.validation.role_labels)
        self.assistant = speaker_prefix(prompts.assistant_label, prompts.validation.role_labels)
        self.format = prompt_format
        self.num_examples = num_examples
        # Tags this prompt uses: untrusted text can open or close none of them.
        self._tags = tag_names(prompts.document_open, prompts.document_close) + (
            "document", "task", "principles")
        self._system = self._render_system()
        self._examples = self._render_examples() if prompt_format == "completion" else ""

    # -- the shared prefix ----------------------------------------------------------------
    def _render_system(self) -> str:
        blocks = [self.p.system]
        for part in PARTS:
            numbered = "\n".join(f"{i}. {text}" for i, text in
                                 enumerate(self.p.parts[part].principles, 1))
            blocks.append(f'<principles kind="{part}">\n{numbered}\n</principles>')
        return "\n\n".join(blocks)

    @property
    def system_text(self) -> str:
        """The part identical for every request of the job (system prompt + all principles)."""
        return self._system

    def escape(self, text: str) -> str:
        """Untrusted text (document, generated turns) that cannot open or close our blocks."""
        return escape_tags(text, self._tags, (self.p.document_open, self.p.document_close))

    def document_block(self, document: str) -> str:
        return f"{self.p.document_open}\n{self.escape(document.strip())}\n{self.p.document_close}"

    def history_lines(self, history: list[Turn], pending_question: str | None = None) -> str:
        lines = []
        for t in history:
            lines.append(_line(self.user, self.escape(t.question)))
            lines.append(_line(self.assistant, self.escape(t.answer)))
        if pending_question is not None:
            lines.append(_line(self.user, self.escape(pending_question)))
        return "\n".join(lines)

    def _render_examples(self) -> str:
        out = []
        for ex in self.p.examples[: self.num_examples]:
            turns = [Turn(t.question, t.answer) for t in ex.turns]
            out.append(self.document_block(ex.document) + "\n" + self.history_lines(turns))
        return "\n\n".join(out)

    def echo_sources(self) -> list[str]:
        """Texts a generated message must not copy: system, principles, instructions, examples."""
        texts = [self.p.system]
        for part in self.p.parts.values():
            texts.append(part.instruction)
            texts.extend(part.principles)
        for ex in self.p.examples:
            for t in ex.turns:
                texts += [t.question, t.answer]
        return texts

    # -- one request ------------------------------------------------------------------------
    def prompt_text(self, document: str, history: list[Turn], part: str,
                    pending_question: str | None = None) -> str | list[Message]:
        """The prompt for ``part`` (a key of PARTS); messages for chat, a string otherwise."""
        if part not in PARTS:
            raise ValueError(f"unknown part {part!r}; expected one of {', '.join(PARTS)}")
        is_answer = part == "answer"
        if is_answer and pending_question is None:
            raise ValueError("an answer turn needs the pending question")
        hist = self.history_lines(history, pending_question if is_answer else None)
        if self.format == "chat":
            body = [self.document_block(document)]
            if hist:
                body.append(hist)
            note = self.p.principles_note.replace("{kind}", part)
            task = self.p.parts[part].instruction + (f"\n{note}" if note else "")
            body.append(f'<task kind="{part}">\n{task}\n</task>')
            return [Message("system", self._system), Message("user", "\n\n".join(body))]
        label = self.assistant if is_answer else self.user
        head = self._system + ("\n\n" + self._examples if self._examples else "")
        doc = self.document_block(document)
        return f"{head}\n\n{doc}\n" + (hist + "\n" if hist else "") + label

    def stop_strings(self, part: str) -> list[str]:
        """Completion models: stop where the next speaker or document would start."""
        if self.format == "chat":
            return []
        # Every example question and answer is one paragraph, so a new line ends the turn.
        return ["\n", self.user, self.assistant, self.p.document_open, self.p.document_close,
                "<principles", "<task"]

    def request(self, document: str, history: list[Turn], part: str, *,
                pending_question: str | None = None, max_tokens: int, temperature: float,
                top_p: float, seed: int, affinity: str, request_id: str = "") -> ChatRequest:
        prompt = self.prompt_text(document, history, part, pending_question)
        sampling = SamplingParams(temperature=temperature, top_p=top_p, max_tokens=max_tokens,
                                  stop=self.stop_strings(part), seed=seed)
        if isinstance(prompt, str):
            return ChatRequest(prompt=prompt, sampling=sampling, affinity=affinity,
                               request_id=request_id)
        return ChatRequest(messages=prompt, sampling=sampling, affinity=affinity,
                           request_id=request_id)
