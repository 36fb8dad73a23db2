"""``ultralink validate``: the stages' own validators, pointed at any data.

Input (JSONL, one record a line), two kinds::

    {"id", "kind": "dialogue", "language", "document", "messages": [{"role", "content"}, …]}
    {"id", "kind": "translation", "language", "subset": "chat"|"math"|"code",
     "source": [English messages], "messages": [translated messages]}

``messages`` of a dialogue are the generated turns (the first question without the
document). A built dataset folder (``{lang}/{subset}/*.parquet``) is accepted too:
``chat_specific`` records are dialogues whose document is taken from the first question's
``<document>`` block; translated records are paired with their English original (same source
dataset and id under ``en/{subset}``). Output: one line per input record, in order,
``{"id", "ok", "reasons"}``, and a per-reason summary table on stdout.

Dialogue messages go through :class:`~ultralink.specific.validate.MessageValidator` exactly as
the dialogue stage calls it (each message with the earlier ones as history); translated
messages through :class:`~ultralink.agnostic.translation_checks.Validator`, on the source protected as
the translator protects it (code, LaTeX, URLs must come back verbatim: ``placeholders``).

Example::

    ultralink validate --input generated.jsonl --output verdicts.jsonl
    ultralink validate --input out/ultralink --output verdicts.jsonl
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ultralink.agnostic.protect import PLACEHOLDER, protect
from ultralink.agnostic.translation_checks import LanguageCheck, Validator
from ultralink.core.languages import get_language
from ultralink.jobs.agnostic.config import AgnosticConfig
from ultralink.specific.dialogue import DialogueConfig
from ultralink.specific.validate import MessageValidator

KINDS = ("dialogue", "translation")
ROLES = {"user": "question", "assistant": "answer"}
DOC_OPEN, DOC_CLOSE = "<document>", "</document>"


@dataclass(slots=True)
class Summary:
    """What one run saw: records per kind, rejections per reason."""

    total: int = 0
    ok: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    rejected_by_kind: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, reasons: list[str]) -> None:
        self.total += 1
        self.by_kind[kind] += 1
        if reasons:
            self.rejected_by_kind[kind] += 1
        else:
            self.ok += 1
        self.reasons.update(reasons)

    def table(self) -> str:
        lines = [f"validated {self.total:,} records: {self.ok:,} ok, "
                 f"{self.total - self.ok:,} rejected"]
        for kind, n in sorted(self.by_kind.items()):
            lines.append(f"  {kind:<12} {n:>8,}  rejected {self.rejected_by_kind[kind]:,}")
        if self.reasons:
            lines.append(f"  {'reason':<26} {'records':>8} {'share':>7}")
            for reason, n in self.reasons.most_common():
                lines.append(f"  {reason:<26} {n:>8,} {n / max(1, self.total):>7.1%}")
        return "\n".join(lines)


class Gate:
    """Validators per language, built as the stages build them (defaults of their configs).

    Args:
        dialogue: the dialogue stage's settings (thresholds, shingle sizes).
        agnostic: the translation stage's settings (ratio slack, language threshold).
        prompts_dir: directory of ``<lang>.yaml`` (default: the repository's prompts/).
        fasttext_model: lid.176 path (default: the shipped .ftz).
    """

    def __init__(self, dialogue: DialogueConfig | None = None,
                 agnostic: AgnosticConfig | None = None, prompts_dir: str | None = None,
                 fasttext_model: str | None = None) -> None:
        self.dialogue_cfg = dialogue or DialogueConfig()
        self.agnostic_cfg = agnostic or AgnosticConfig()
        self.prompts_dir = prompts_dir
        self.fasttext_model = fasttext_model
        self._messages: dict[str, MessageValidator] = {}
        self._translations: dict[str, Validator] = {}
        self._langid: LanguageCheck | None = None

    def message_validator(self, language: str) -> MessageValidator:
        if language not in self._messages:
            from ultralink.specific.prompts import PromptBuilder, load_prompts

            prompts = load_prompts(language, self.prompts_dir)
            builder = PromptBuilder(prompts, "chat")
            v = MessageValidator.for_dialogue(prompts, self.dialogue_cfg, builder.echo_sources(),
                                              self.fasttext_model)
            v.setup()
            self._messages[language] = v
        return self._messages[language]

    def translation_validator(self, language: str) -> Validator:
        if language not in self._translations:
            if self._langid is None:
                self._langid = LanguageCheck(self.fasttext_model)
                self._langid.setup()
            self._translations[language] = Validator.for_language(
                language, self.agnostic_cfg, self._langid, self.prompts_dir)
        return self._translations[language]

    # -- records ------------------------------------------------------------------------------
    def check(self, record: dict[str, Any]) -> list[str]:
        """The reasons ``record`` is rejected (empty: it passes), in the order found."""
        kind = record.get("kind")
        if kind == "dialogue":
            return self.check_dialogue(record["language"], record["messages"],
                                       record.get("document") or "")
        if kind == "translation":
            return self.check_translation(record["language"], record["source"],
                                          record["messages"])
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")

    def check_dialogue(self, language: str, messages: list[dict[str, str]],
                       document: str = "") -> list[str]:
        roles = [m.get("role") for m in messages]
        if not messages or roles != ["user", "assistant"] * (len(messages) // 2) or \
                len(messages) % 2:
            return ["structure"]
        v = self.message_validator(language)
        reasons: list[str] = []
        previous: list[str] = []
        for m in messages:
            verdict = v.check(m["content"], ROLES[m["role"]], "stop", previous,  # type: ignore[arg-type]
                              document)
            if verdict.reason and verdict.reason not in reasons:
                reasons.append(verdict.reason)
            previous.append(verdict.text)
        return reasons

    def check_translation(self, language: str, source: list[dict[str, str]],
                          messages: list[dict[str, str]]) -> list[str]:
        if [m.get("role") for m in source] != [m.get("role") for m in messages] or not messages:
            return ["structure"]
        v = self.translation_validator(language)
        reasons: list[str] = []
        for src, out in zip(source, messages):
            failure = self.check_message_translation(v, src["content"], out["content"])
            if failure and failure[0] not in reasons:
                reasons.append(failure[0])
        return reasons

    def check_message_translation(self, v: Validator, source: str, output: str
                                  ) -> tuple[str, str] | None:
        """As the translator checks a joined message: protected spans must come back verbatim,
        then the prose checks run on the text with the spans as placeholders."""
        if get_language(v.language).standardizes:  # as the translator's clean(): t2s, terms
            from ultralink.text.chinese import standardize

            output = standardize(output, v.language)
        protected = protect(source)
        text = output
        order = sorted(range(len(protected.spans)), key=lambda i: -len(protected.spans[i]))
        for i in order:
            span = protected.spans[i]
            found = _find_span(text, span, protected.kinds[i])
            if found is None:
                return "placeholders", f"protected span changed: {span[:40]!r}"
            at, end = found
            text = text[:at] + PLACEHOLDER.format(i) + text[end:]
        return v.check(protected.text, text,
                       langid_min_chars=self.agnostic_cfg.langid_message_min_chars)


# Spans whose numbers a careful human translator writes the target's way ("1,250.75" as
# "1 250,75" in French): found with either separator, values unchanged.
_NUMERIC_SPANS = ("arithmetic", "final_answer", "answer_value")
_EN_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_GROUP = r"[,.\u00a0\u202f ]?"


def _find_span(text: str, span: str, kind: str) -> tuple[int, int] | None:
    """Where ``span`` came back in ``text``: verbatim, or (numeric spans) with the numbers'
    decimal and thousands separators in the target's convention."""
    at = text.find(span)
    if at >= 0:
        return at, at + len(span)
    if kind not in _NUMERIC_SPANS:
        return None
    parts, last = [], 0
    for m in _EN_NUMBER.finditer(span):
        parts.append(r"\s*".join(map(re.escape, span[last:m.start()].split())))
        parts.append(_number_pattern(m.group(0)))
        last = m.end()
    parts.append(r"\s*".join(map(re.escape, span[last:].split())))
    body = r"\s*".join(p for p in parts if p)
    found = re.search(r"(?<![\d.,])" + body + r"(?![\d])", text)
    return (found.start(), found.end()) if found else None


def _number_pattern(number: str) -> str:
    """``1,250.75`` → a regex for 1250.75 written with any grouping and decimal sign."""
    whole, _, frac = number.replace(",", "").partition(".")
    head = len(whole) % 3 or 3
    groups = [whole[:head]] + [whole[j:j + 3] for j in range(head, len(whole), 3)]
    digits = _GROUP.join(groups) if len(whole) > 3 else whole
    return digits + (r"[.,]" + frac if frac else "")


# ---------------------------------------------------------------------------------- inputs


def _split_document(first: str) -> tuple[str, str]:
    """``<document>…</document>\\nquestion`` → (document, question)."""
    start = first.find(DOC_OPEN)
    end = first.find(DOC_CLOSE)
    if start < 0 or end < start:
        return "", first
    return first[start + len(DOC_OPEN):end].strip(), first[end + len(DOC_CLOSE):].strip()


def dataset_records(root_uri: str) -> Iterator[tuple[str, dict[str, Any] | str]]:
    """Records of a built dataset folder as validate-input records (or an error line)."""
    from ultralink.core.fs import resolve
    from ultralink.dataset.files import dataset_parts, iter_part_batches

    root = resolve(root_uri)
    groups = dataset_parts(root)
    if not groups:
        raise ValueError(f"{root_uri}: no {{lang}}/{{subset}}/*.parquet files")
    english: dict[str, dict[tuple[str, str], list[dict[str, str]]]] = {}

    def originals(subset: str) -> dict[tuple[str, str], list[dict[str, str]]]:
        if subset not in english:
            index: dict[tuple[str, str], list[dict[str, str]]] = {}
            for loc in groups.get(("en", subset), []):
                for batch in iter_part_batches(loc, ["id", "messages", "source"]):
                    for row in batch.to_pylist():
                        src = row.get("source") or {}
                        index[(src.get("dataset") or "", src.get("id") or row["id"])] = \
                            row["messages"]
            english[subset] = index
        return english[subset]

    for (lang, subset), parts in groups.items():
        for loc in parts:
            for batch in iter_part_batches(loc, ["id", "messages", "source"]):
                for row in batch.to_pylist():
                    messages = [{"role": m["role"], "content": m["content"]}
                                for m in row["messages"]]
                    if subset == "chat_specific":
                        doc = ""
                        if messages and messages[0]["role"] == "user":
                            doc, q = _split_document(messages[0]["content"])
                            messages[0] = {"role": "user", "content": q}
                        yield loc.uri, {"id": row["id"], "kind": "dialogue", "language": lang,
                                        "document": doc, "messages": messages}
                    elif lang != "en":
                        src = row.get("source") or {}
                        original = originals(subset).get((src.get("dataset") or "",
                                                          src.get("id") or ""))
                        if original is None:
                            yield loc.uri, (f"{row['id']}: no English original under "
                                            f"en/{subset} (source id {src.get('id')!r})")
                            continue
                        yield loc.uri, {"id": row["id"], "kind": "translation",
                                        "language": lang, "subset": subset,
                                        "source": [{"role": m["role"], "content": m["content"]}
                                                   for m in original],
                                        "messages": messages}


def jsonl_records(path: str) -> Iterator[tuple[str, dict[str, Any] | str]]:
    from ultralink.core.fs import resolve

    loc = resolve(path)
    with loc.fs.open_input_stream(loc.path) as stream, \
            io.TextIOWrapper(stream, encoding="utf-8") as f:  # streamed, line by line
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            where = f"{path}:{n}"
            try:
                rec = json.loads(raw)
            except ValueError as exc:
                yield where, f"not JSON ({exc.msg})"
                continue
            problem = _shape_problem(rec)
            yield where, problem if problem else rec


def _shape_problem(rec: Any) -> str | None:
    if not isinstance(rec, dict):
        return "not a JSON object"
    kind = rec.get("kind")
    if kind not in KINDS:
        return f"kind {kind!r} is not one of {', '.join(KINDS)}"
    need = ("id", "language", "messages") + (("source",) if kind == "translation" else ())
    missing = [k for k in need if k not in rec]
    if missing:
        return f"missing keys {missing}"
    for key in ("messages", "source") if kind == "translation" else ("messages",):
        msgs = rec[key]
        if not isinstance(msgs, list) or not all(
                isinstance(m, dict) and isinstance(m.get("content"), str) and "role" in m
                for m in msgs):
            return f"{key!r} must be a list of {{role, content}}"
    return None


def iter_inputs(inputs: Iterable[str]) -> Iterator[tuple[str, dict[str, Any] | str]]:
    for path in inputs:
        p = Path(path)
        if p.is_dir() or (path.startswith("s3://") and not path.endswith(".jsonl")):
            yield from dataset_records(path)
        else:
            yield from jsonl_records(path)


def validate(inputs: list[str], output: str, gate: Gate | None = None) -> Summary:
    """Write one verdict per input record to ``output``; returns the summary."""
    gate = gate or Gate()
    summary = Summary()
    out_path = Path(output)
    if out_path.parent:
        out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        for where, rec in iter_inputs(inputs):
            if isinstance(rec, str):
                print(f"ultralink validate: {where}: {rec}", file=sys.stderr)
                summary.add("malformed", ["malformed"])
                out.write(json.dumps({"id": None, "ok": False, "reasons": ["malformed"]}) + "\n")
                continue
            try:
                reasons = gate.check(rec)
            except Exception as exc:  # a language without a prompt file, a bad role …
                print(f"ultralink validate: {where}: record {rec.get('id')!r}: {exc}",
                      file=sys.stderr)
                reasons = ["malformed"]
            summary.add(rec["kind"], reasons)
            out.write(json.dumps({"id": rec["id"], "ok": not reasons, "reasons": reasons},
                                 ensure_ascii=False) + "\n")
    tmp.replace(out_path)
    return summary
