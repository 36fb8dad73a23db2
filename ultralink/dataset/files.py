"""The on-disk layout of a built dataset: ``{root}/{lang}/{subset}/part-*.parquet``.

Every reader of a finished dataset (stats, export, dedup, decontamination, the card) lists
and streams its part files through here, so the layout is written down once.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from ultralink.core.fs import Location, list_files
from ultralink.core.languages import LANGUAGES
from ultralink.core.records import SUBSETS

BATCH_ROWS = 1024


def dataset_parts(root: Location, languages: Iterable[str] | None = None,
                  subsets: Iterable[str] | None = None) -> dict[tuple[str, str], list[Location]]:
    """Part files per ``(language, subset)`` under ``root``, both in dataset order.

    Only ``{lang}/{subset}/*.parquet`` counts, with ``subset`` one of :data:`SUBSETS`; names
    starting with ``_`` or ``.`` (manifests, reports, unit markers, temporaries) are skipped,
    as are other top-level folders (``figures/``).
    """
    want_lang = set(languages) if languages else None
    want_sub = set(subsets) if subsets else None
    groups: dict[tuple[str, str], list[Location]] = {}
    for loc in list_files(root, ".parquet"):
        rel = posixpath.relpath(loc.path, root.path).split("/")
        if len(rel) != 3 or any(p.startswith(("_", ".")) for p in rel):
            continue
        lang, subset, _ = rel
        if subset not in SUBSETS:
            continue
        if (want_lang is not None and lang not in want_lang) or (want_sub is not None and subset not in want_sub):
            continue
        groups.setdefault((lang, subset), []).append(loc)
    order = {k: i for i, k in enumerate(language_order(lang for lang, _ in groups))}
    return {k: sorted(groups[k], key=lambda loc: loc.path)
            for k in sorted(groups, key=lambda k: (order[k[0]], SUBSETS.index(k[1])))}


def language_order(langs: Iterable[str]) -> list[str]:
    """The paper's order (En, Zh, Ru, Fr, Es: the registry's), then any others by code."""
    present = set(langs)
    known = [code for code in LANGUAGES if code in present]
    return known + sorted(present - set(known))


def iter_part_batches(loc: Location, columns: list[str], batch_rows: int = BATCH_ROWS
                      ) -> Iterator[pa.RecordBatch]:
    """Record batches of one part file, reading only ``columns`` that it has."""
    with loc.fs.open_input_file(loc.path) as f:
        pf = pq.ParquetFile(f)
        have = set(pf.schema_arrow.names)
        missing = [c for c in columns if c not in have and c in ("id", "messages")]
        if missing:
            raise ValueError(f"{loc.uri}: not in the conversation schema: missing columns "
                             f"{missing}; present: {sorted(have)}")
        yield from pf.iter_batches(batch_size=batch_rows, columns=[c for c in columns if c in have])
