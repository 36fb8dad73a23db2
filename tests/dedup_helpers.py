"""Tiny datasets in our layout for the dedup / decontamination tests."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ultralink.core.records import Conversation, Turn, conversation_schema, segment_schema


def conv(rid: str, lang: str, subset: str, *texts: str) -> dict:
    turns = [Turn("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(texts)]
    return Conversation(rid, lang, subset, turns, {"dataset": "test"}).to_row()


def write_conversations(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=conversation_schema()), path)


def write_segments(path: Path, items: list[tuple[str, str]], lang: str = "en") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"id": i, "doc_id": i.split("-")[0], "title": "t", "url": "", "language": lang,
             "segment_index": 0, "text": t, "n_tokens": len(t.split()), "source_file": "x"}
            for i, t in items]
    pq.write_table(pa.Table.from_pylist(rows, schema=segment_schema()), path)


def ids(root: Path) -> list[str]:
    return sorted(i for f in root.rglob("part-*.parquet") if "_work" not in f.parts
                  for i in pq.read_table(f, columns=["id"]).column("id").to_pylist())
