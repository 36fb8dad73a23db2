"""Dataset statistics the paper reports: Table 1, Table 2 and the Figure 13 data.

Reads an ``ultralink build`` output (``{root}/{lang}/{subset}/part-*.parquet``, local or
``s3://``) one record batch at a time with only the columns it needs, so memory stays bounded
by one batch whatever the dataset size. Token lengths are tiktoken ``cl100k_base`` counts
(the paper's yardstick); a question is counted without its ``<document>`` block.

Example::

    ultralink stats out/ultralink             # print Table 1 + Table 2, write stats.json + figure
    ultralink stats s3://bucket/ultralink --no-write --workers 4
"""

from __future__ import annotations

import io
import json
import logging
import multiprocessing
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ultralink.dataset.files import BATCH_ROWS, dataset_parts, iter_part_batches, language_order
from ultralink.core.fs import Location, resolve, write_atomic
from ultralink.core.records import SUBSETS

log = logging.getLogger(__name__)

STATS_FILE = "stats.json"
FIGURE_FILE = "figures/token_lengths.png"
DOCUMENT_OPEN = "<document>"
DOCUMENT_CLOSE = "</document>"
READ_COLUMNS = ["language", "subset", "messages"]

# Table 2 of the paper, for comparison in the printed tables.
PAPER_TABLE2 = {"dialogues": 1_032_000, "turns": 1_623_000, "avg_question": 87.86,
                "avg_answer": 290.35, "avg_turn": 378.21}


# ------------------------------------------------------------------------------ counting


@dataclass(slots=True)
class Counts:
    """Sums for one group of dialogues; averages are derived, so partial counts just add."""

    dialogues: int = 0
    turns: int = 0                     # user → assistant pairs
    question_tokens: int = 0
    answer_tokens: int = 0
    system_messages: int = 0
    unpaired_messages: int = 0         # a message outside a user → assistant pair (not counted)
    dialogues_without_turns: int = 0
    missing_document: int = 0          # chat_specific first question without a <document> block
    mismatched_rows: int = 0           # language/subset columns disagree with the folder

    def add(self, other: Counts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def summary(self) -> dict[str, Any]:
        turns = self.turns or 1
        q = self.question_tokens / turns if self.turns else 0.0
        a = self.answer_tokens / turns if self.turns else 0.0
        return {"dialogues": self.dialogues, "turns": self.turns,
                "question_tokens": self.question_tokens, "answer_tokens": self.answer_tokens,
                "avg_question": round(q, 2), "avg_answer": round(a, 2), "avg_turn": round(q + a, 2),
                "turns_per_dialogue": round(self.turns / self.dialogues, 3) if self.dialogues else 0.0}


def strip_document(question: str) -> tuple[str, bool]:
    """The question without a leading ``<document>…</document>`` block; ``(text, had_block)``."""
    s = question.lstrip()
    if s.startswith(DOCUMENT_OPEN):
        end = s.find(DOCUMENT_CLOSE)
        if end != -1:
            return s[end + len(DOCUMENT_CLOSE):].lstrip(), True
    return question, False


def split_turns(roles: list[str | None], contents: list[str | None], strip_doc: bool,
                questions: list[str], answers: list[str], counts: Counts) -> None:
    """Append one dialogue's question/answer texts (pairs only) and count what does not fit."""
    n = len(roles)
    j = 0
    if n and roles[0] == "system":
        counts.system_messages += 1
        j = 1
    first = True
    turns = 0
    while j < n:
        if roles[j] == "user" and j + 1 < n and roles[j + 1] == "assistant":
            q = contents[j] or ""
            if first and strip_doc:
                q, had = strip_document(q)
                counts.missing_document += not had
            first = False
            questions.append(q)
            answers.append(contents[j + 1] or "")
            turns += 1
            j += 2
        else:
            counts.unpaired_messages += 1
            j += 1
    counts.dialogues += 1
    counts.turns += turns
    counts.dialogues_without_turns += turns == 0


def _token_total(texts: list[str], encode) -> int:
    # A plain loop over encode_ordinary: on the shared 2-core box it beat
    # encode_ordinary_batch with 2-4 threads (1.75 vs 1.1-1.6 Mtok/s); parallelism comes from
    # worker processes over files instead.
    return sum(len(encode(t)) for t in texts)


def count_batches(batches: Iterable[pa.RecordBatch], lang: str, subset: str, encode) -> Counts:
    """Counts for record batches with ``language``, ``subset`` and ``messages`` columns."""
    counts = Counts()
    strip_doc = subset == "chat_specific"
    for batch in batches:
        if batch.num_rows == 0:
            continue
        for name, want in (("language", lang), ("subset", subset)):
            if name in batch.schema.names:
                differs = pc.not_equal(batch.column(name), pa.scalar(want)).fill_null(True)
                counts.mismatched_rows += pc.sum(differs).as_py() or 0
        msgs = batch.column("messages")
        lengths = pc.list_value_length(msgs).fill_null(0).to_pylist()
        flat = msgs.flatten()
        roles = flat.field("role").to_pylist()
        contents = flat.field("content").to_pylist()
        questions: list[str] = []
        answers: list[str] = []
        start = 0
        for n in lengths:
            split_turns(roles[start:start + n], contents[start:start + n], strip_doc,
                        questions, answers, counts)
            start += n
        counts.question_tokens += _token_total(questions, encode)
        counts.answer_tokens += _token_total(answers, encode)
    return counts


def _count_file(loc: Location, lang: str, subset: str, encoding: str, batch_rows: int) -> Counts:
    from ultralink.text.tokens import get_encoding

    encode = get_encoding(encoding).encode_ordinary
    return count_batches(iter_part_batches(loc, READ_COLUMNS, batch_rows), lang, subset, encode)


# ------------------------------------------------------------------------------ stats


def compute_stats(output_uri: str, *, languages: Iterable[str] | None = None,
                  subsets: Iterable[str] | None = None, encoding: str = "cl100k_base",
                  workers: int = 1, batch_rows: int = BATCH_ROWS) -> dict[str, Any]:
    """Table 1, Table 2 and Figure 13 numbers of the dataset at ``output_uri``.

    Args:
        workers: processes counting part files in parallel (1: in this process).
    """
    root = resolve(output_uri)
    groups = dataset_parts(root, languages, subsets)
    jobs = [(loc, lang, subset) for (lang, subset), locs in groups.items() for loc in locs]
    per_group: dict[tuple[str, str], Counts] = {k: Counts() for k in groups}
    t0 = time.perf_counter()
    if workers > 1 and len(jobs) > 1:
        ctx = multiprocessing.get_context("spawn")   # pyarrow/tiktoken threads and fork do not mix
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx) as pool:
            futures = [(lang, subset, pool.submit(_count_file, loc, lang, subset, encoding, batch_rows))
                       for loc, lang, subset in jobs]
            for lang, subset, fut in futures:
                per_group[(lang, subset)].add(fut.result())
    else:
        for loc, lang, subset in jobs:
            per_group[(lang, subset)].add(_count_file(loc, lang, subset, encoding, batch_rows))
    stats = assemble(per_group)
    stats.update(source=root.uri, encoding=encoding, files=len(jobs),
                 seconds=round(time.perf_counter() - t0, 2))
    return stats


def assemble(per_group: dict[tuple[str, str], Counts]) -> dict[str, Any]:
    """The stats dict from counts per ``(language, subset)``."""
    langs = language_order(lang for lang, _ in per_group)
    subsets = [s for s in SUBSETS if any(sub == s for _, sub in per_group)]
    by_lang: dict[str, Counts] = {lang: Counts() for lang in langs}
    by_subset: dict[str, Counts] = {s: Counts() for s in subsets}
    overall, non_en = Counts(), Counts()
    for (lang, subset), c in per_group.items():
        by_lang[lang].add(c)
        by_subset[subset].add(c)
        overall.add(c)
        if lang != "en":
            non_en.add(c)

    def row(select) -> dict[str, int]:
        out = {s: sum(c.dialogues for (lang, sub), c in per_group.items() if sub == s and select(lang))
               for s in subsets}
        out["total"] = sum(out.values())
        return out

    table1 = {"languages": {lang: row(lambda x, lang=lang: x == lang) for lang in langs},
              "UltraLink": row(lambda x: True),
              "w/o En": row(lambda x: x != "en")}
    table2 = {"overall": overall.summary(),
              "w/o En": non_en.summary(),
              "by_language": {lang: by_lang[lang].summary() for lang in langs},
              "by_subset": {s: by_subset[s].summary() for s in subsets},
              "by_language_subset": {lang: {s: per_group[(lang, s)].summary() for s in subsets
                                            if (lang, s) in per_group} for lang in langs}}
    figure13 = {lang: {"question": by_lang[lang].summary()["avg_question"],
                       "answer": by_lang[lang].summary()["avg_answer"]} for lang in langs}
    checks = {k: v for k, v in asdict(overall).items()
              if k in ("system_messages", "unpaired_messages", "dialogues_without_turns",
                       "missing_document", "mismatched_rows")}
    return {"languages": langs, "subsets": subsets, "table1": table1, "table2": table2,
            "figure13": figure13, "checks": checks}


# ------------------------------------------------------------------------------ output


def _render(headers: list[str], rows: list[list[Any]], markdown: bool) -> str:
    cells = [[_cell(v) for v in r] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |",
                 "|" + "|".join(":---" if i == 0 else "---:" for i in range(len(headers))) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in cells]
        return "\n".join(lines)
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h))
              for i, h in enumerate(headers)]

    def fmt(r: list[str]) -> str:
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths)))

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    return "\n".join([fmt([str(h) for h in headers]), rule, *(fmt(r) for r in cells)])


def _cell(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "" if v is None else str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


SUBSET_HEADERS = {"chat_specific": "Chat (specific)", "chat_agnostic": "Chat (agnostic)",
                  "math": "Math", "code": "Code"}


def format_table1(stats: dict[str, Any], markdown: bool = False) -> str:
    subsets = stats["subsets"]
    t1 = stats["table1"]
    headers = ["Lang.", *(SUBSET_HEADERS[s] for s in subsets), "Total"]
    rows = [[lang.capitalize(), *(t1["languages"][lang].get(s, 0) for s in subsets),
             t1["languages"][lang]["total"]] for lang in stats["languages"]]
    for name in ("UltraLink", "w/o En"):
        rows.append([name, *(t1[name].get(s, 0) for s in subsets), t1[name]["total"]])
    return _render(headers, rows, markdown)


def format_table2(stats: dict[str, Any], markdown: bool = False, reference: bool = True) -> str:
    t2 = stats["table2"]
    headers = ["Dataset", "Dialogues", "Turns", "Avg question", "Avg answer", "Avg turn"]

    def r(name: str, e: dict[str, Any]) -> list[Any]:
        return [name, e["dialogues"], e["turns"], e["avg_question"], e["avg_answer"], e["avg_turn"]]

    rows = [r("UltraLink (this build)", t2["overall"])]
    if "en" in stats["languages"] and len(stats["languages"]) > 1:
        rows.append(r("w/o En", t2["w/o En"]))
    rows += [r(lang.capitalize(), t2["by_language"][lang]) for lang in stats["languages"]]
    rows += [r(s, t2["by_subset"][s]) for s in stats["subsets"]]
    rows += [r(f"{lang} / {s}", e) for lang, per in t2["by_language_subset"].items()
             for s, e in per.items()]
    if reference:
        p = PAPER_TABLE2
        rows.append(["UltraLink (paper)", "1032K", "1623K", p["avg_question"], p["avg_answer"],
                     p["avg_turn"]])
    return _render(headers, rows, markdown)


def format_tables(stats: dict[str, Any], markdown: bool = False) -> str:
    """Table 1 (dialogues per language × subset) and Table 2 (turns, average tokens) as text."""
    enc = stats.get("encoding", "cl100k_base")
    parts = ["Table 1: dialogues per language and subset", format_table1(stats, markdown), "",
             (f"Table 2: dialogues, turns (user/assistant pairs) and average tokens per turn "
              f"(tiktoken {enc}; questions without the <document> block)"),
             format_table2(stats, markdown)]
    odd = {k: v for k, v in stats.get("checks", {}).items() if v and k != "system_messages"}
    if odd:
        parts += ["", "Checks: " + ", ".join(f"{k}={v:,}" for k, v in odd.items())]
    return "\n".join(parts)


def render_figure(stats: dict[str, Any]) -> bytes:
    """PNG bytes of Figure 13: grouped bars of average question/answer tokens per language."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    langs = stats["languages"]
    q = [stats["figure13"][lang]["question"] for lang in langs]
    a = [stats["figure13"][lang]["answer"] for lang in langs]
    fig = Figure(figsize=(max(4.0, 1.2 * len(langs) + 2), 3.6), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    x = range(len(langs))
    w = 0.38
    bars_q = ax.bar([i - w / 2 for i in x], q, w, label="Question", color="#4C72B0")
    bars_a = ax.bar([i + w / 2 for i in x], a, w, label="Answer", color="#DD8452")
    for bars in (bars_q, bars_a):
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
    ax.set_xticks(list(x), [lang.capitalize() for lang in langs])
    ax.set_ylabel(f"Average tokens ({stats.get('encoding', 'cl100k_base')})")
    ax.set_title("Number of tokens for each language")
    ax.set_ylim(0, max([*q, *a, 1.0]) * 1.15)
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def write_stats(output_uri: str, stats: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """Compute (unless given) and write ``stats.json`` and ``figures/token_lengths.png`` at the root."""
    if stats is None:
        stats = compute_stats(output_uri, **kwargs)
    root = resolve(output_uri)
    write_atomic(root.join(STATS_FILE), (json.dumps(stats, indent=2, ensure_ascii=False) + "\n").encode())
    write_atomic(root.join(*FIGURE_FILE.split("/")), render_figure(stats))
    return stats
