"""English SFT readers: one file in, English conversations out, its schema detected from the
records themselves, not the file name.

Every reader yields one :class:`~ultralink.core.records.Conversation` form. A file that fits no
schema, a mix of schemas, or a non-English file is refused with one line naming the keys found
and the schemas known (``sft_detect``); a malformed line or record is skipped with
``file:line`` and its reason, and counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain

from ultralink.core.counters import Counters
from ultralink.core.fs import Location
from ultralink.core.records import Conversation
from ultralink.sources.byteio import MAX_RECORD
from ultralink.sources.input_unit import Log
from ultralink.sources.sft_detect import choose_schema
from ultralink.sources.sft_normalise import Dropped, to_conversation
from ultralink.sources.sft_records import iter_records
from ultralink.sources.sft_schemas import Schema, SchemaError

__all__ = ["SchemaError", "read_sft"]


def read_sft(loc: Location, subset: str, counters: Counters, log: Log,
             tool_roles: str = "skip", sniff: int = 50, max_bytes: int = MAX_RECORD
             ) -> Iterator[Conversation]:
    """Read one file, detect its schema from the first records, yield conversations.

    Raises :class:`SchemaError` when the records match no known schema.
    """
    records = iter_records(loc, counters, log, max_bytes)
    head: list[tuple[int, dict]] = []
    for item in records:
        head.append(item)
        if len(head) >= sniff:
            break
    if not head:
        counters.add("files_empty")
        log(f"{loc.uri}: no records")
        return
    schema = choose_schema(loc.uri, head)
    log(f"{loc.uri}: schema {schema.name} detected")
    counters.add_in("schema", schema.name, 0)
    yield from _conversations(chain(head, records), schema, subset, loc.uri, tool_roles,
                              counters, log)


def _conversations(records: Iterable[tuple[int, dict]], schema: Schema, subset: str, uri: str,
                   tool_roles: str, counters: Counters, log: Log) -> Iterator[Conversation]:
    """Each record that fits ``schema`` as a conversation; the others dropped and counted."""
    seen: set[str] = set()
    for where, rec in records:
        counters.add("read")
        why = schema.misfit(rec)
        if why is not None:
            counters.drop("schema_mismatch")
            log(f"{uri}:{where}: skipped: not a {schema.name} record: {why}")
            continue
        try:
            conv = to_conversation(rec, schema, subset, uri, tool_roles)
        except Dropped as exc:
            counters.drop(exc.reason)
            log(f"{uri}:{where}: dropped: {exc}")
            continue
        except Exception as exc:  # one poison record must not lose the file
            counters.drop(f"error:{type(exc).__name__}")
            log(f"{uri}:{where}: dropped: error:{type(exc).__name__}: {exc}")
            continue
        if conv.id in seen:
            counters.drop("duplicate_id")
            continue
        seen.add(conv.id)
        counters.add_in("schema", schema.name)
        yield conv
