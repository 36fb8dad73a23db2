"""The typed records that flow between preparation stages (DESIGN.md data contracts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict


@dataclass(slots=True)
class Page:
    """One article as a reader yields it, before cleaning.

    ``markup`` is ``"wikitext"`` for MediaWiki XML (needs cleaning) and ``"plain"`` for
    wikiextractor / Parquet / JSONL inputs (already text).
    """

    page_id: str
    title: str
    text: str
    source_file: str
    markup: str = "wikitext"
    namespace: int = 0
    redirect: bool = False
    url: str = ""


@dataclass(slots=True)
class Document:
    """A cleaned, language-checked article on its way to segmentation."""

    doc_id: str
    title: str
    url: str
    language: str
    text: str
    source_file: str
    n_tokens: int = 0
    langid_label: str = ""
    langid_prob: float = 0.0
    extra: dict[str, int] = field(default_factory=dict)
    sentences: list | None = None   # transient: sentence spans + token counts (text.sentence_units)


@dataclass(slots=True)
class Segment:
    """One 1K–2K-token piece of a document: the grounding for one dialogue."""

    id: str
    doc_id: str
    title: str
    url: str
    language: str
    segment_index: int
    text: str
    n_tokens: int
    source_file: str


def segment_schema():  # imported lazily so records stay importable without pyarrow
    """The Parquet schema of ``ultralink prepare`` output (one row per segment)."""
    import pyarrow as pa

    return pa.schema([
        ("id", pa.string()),
        ("doc_id", pa.string()),
        ("title", pa.string()),
        ("url", pa.string()),
        ("language", pa.string()),
        ("segment_index", pa.int32()),
        ("text", pa.string()),
        ("n_tokens", pa.int32()),
        ("source_file", pa.string()),
    ])


SUBSETS = ("chat_specific", "chat_agnostic", "math", "code")


@dataclass(slots=True)
class Turn:
    role: str       # "system" | "user" | "assistant"
    content: str


class Source(TypedDict, total=False):
    """Where a record came from (the ``source`` struct column); absent fields are null."""

    dataset: str | None        # sharegpt, metamathqa, gsm8k, magicoder-oss, wikipedia, …
    id: str | None             # original record id (English original for translations)
    title: str | None
    url: str | None
    doc_id: str | None
    segment_index: int | None
    schema: str | None         # the input schema the reader detected
    file: str | None


class Meta(TypedDict, total=False):
    """How a record was made (the ``meta`` struct column); absent fields are null."""

    question_kinds: list[str] | None   # initial / in_depth / expansive per turn
    question_tokens: list[int] | None
    answer_tokens: list[int] | None
    retries: list[int] | None
    model: str | None
    prompt_version: str | None
    seed: int | None
    criteria: list[dict] | None
    translated_from: str | None
    tokens_generated: int | None


SOURCE_FIELDS = tuple(Source.__annotations__)
META_FIELDS = tuple(Meta.__annotations__)


@dataclass(slots=True)
class Conversation:
    """One SFT record in the schema every stage writes (DESIGN.md data contracts).

    ``source`` and ``meta`` are the typed :class:`Source` / :class:`Meta` structs: a key
    outside them is an error, never a silently null column. ``group`` is transient (never
    written): what pruning groups by (MetaMathQA's ``original_question``).
    """

    id: str
    language: str
    subset: str
    messages: list[Turn]
    source: Source = field(default_factory=lambda: Source())
    meta: Meta = field(default_factory=lambda: Meta())
    group: str | None = None

    def to_row(self) -> dict:
        for name, value, fields in (("source", self.source, SOURCE_FIELDS),
                                    ("meta", self.meta, META_FIELDS)):
            unknown = sorted(set(value) - set(fields))
            if unknown:
                raise ValueError(f"record {self.id}: {name} has no field(s) {unknown}; "
                                 f"it has {list(fields)}")
        return {"id": self.id, "language": self.language, "subset": self.subset,
                "messages": [{"role": t.role, "content": t.content} for t in self.messages],
                "source": {k: self.source.get(k) for k in SOURCE_FIELDS},
                "meta": {k: self.meta.get(k) for k in META_FIELDS}}


def conversation_type():
    """The conversation schema as one struct column (rows crossing Ray boundaries)."""
    import pyarrow as pa

    return pa.struct(list(conversation_schema()))


def counts_type():
    """Per-row counters (turns, tokens, rejections …) as a typed map column."""
    import pyarrow as pa

    return pa.map_(pa.string(), pa.int64())


def sft_row_schema():
    """An English SFT record on its way through the agnostic pipeline (one unit's row)."""
    import pyarrow as pa

    return pa.schema([("unit_id", pa.string()), ("id", pa.string()),
                      ("source_file", pa.string()), ("conversation", conversation_type())])


def conversation_schema():
    """The Parquet schema of every dialogue/translation output."""
    import pyarrow as pa

    return pa.schema([
        ("id", pa.string()),
        ("language", pa.string()),
        ("subset", pa.string()),
        ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("source", pa.struct([
            ("dataset", pa.string()),        # sharegpt, metamathqa, gsm8k, magicoder-oss, wikipedia, …
            ("id", pa.string()),             # original record id (English original for translations)
            ("title", pa.string()),
            ("url", pa.string()),
            ("doc_id", pa.string()),
            ("segment_index", pa.int32()),
            ("schema", pa.string()),         # the input schema the reader detected
            ("file", pa.string()),
        ])),
        ("meta", pa.struct([
            ("question_kinds", pa.list_(pa.string())),   # initial / in_depth / expansive per turn
            ("question_tokens", pa.list_(pa.int32())),
            ("answer_tokens", pa.list_(pa.int32())),
            ("retries", pa.list_(pa.int32())),
            ("model", pa.string()),
            ("prompt_version", pa.string()),
            ("seed", pa.int64()),
            ("criteria", pa.list_(pa.struct([("name", pa.string()), ("hit", pa.bool_())]))),
            ("translated_from", pa.string()),
            ("tokens_generated", pa.int64()),
        ])),
    ])
