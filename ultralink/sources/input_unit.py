"""What a reader is handed and what it raises: the input unit and the input error.

A dump of tens of GB must become many small, deterministic work units (DESIGN.md, "Resume
and idempotence"); a unit's identity names its outputs and manifest entry, so it lives apart
from the byte plumbing that reads it. Every reader (MediaWiki, wikiextractor, tabular) and the
planner share these types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ultralink.core.ids import digest

KINDS = ("mediawiki", "mediawiki-multistream", "wikiextractor", "wikiextractor-json",
         "jsonl", "parquet")

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class InputUnit:
    """One independently readable piece of one input file; picklable and deterministic."""

    uri: str            # the input as the user named it (local path or s3://...)
    kind: str           # one of KINDS
    index: int          # position of this unit within the file
    start: int = 0      # byte offset / first row group
    end: int = -1       # exclusive; -1 = to the end
    siteinfo_base: str = ""   # URL prefix for titles, e.g. "https://ru.wikipedia.org/wiki/"
    version: str = ""   # the input's identity (size + mtime / ETag): a changed file, new units

    @property
    def unit_id(self) -> str:
        """Stable, filesystem-safe name for this unit's outputs and manifest entry."""
        parts = (self.uri, self.kind, str(self.index), str(self.start), str(self.end))
        return digest(*parts, *((self.version,) if self.version else ()))


class InputError(Exception):
    """An input that cannot be read at all; the caller reports it and goes on."""

    def __init__(self, uri: str, reason: str) -> None:
        super().__init__(uri, reason)   # args kept as (uri, reason) so it pickles across Ray
        self.uri = uri
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.uri}: {self.reason}"

