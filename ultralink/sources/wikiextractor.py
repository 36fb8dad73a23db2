"""wikiextractor output: ``<doc id=… url=… title=…>`` text files (its ``--json`` lines are
read by :mod:`ultralink.sources.tabular`). The text is already plain, so ``markup="plain"``.

wikiextractor does not escape the text inside ``<doc>``, so records are cut at ``<doc `` and
``</doc>`` tags; the plain-text files split by byte range like XML does.
"""

from __future__ import annotations

import re

from ultralink.core.records import Page
from ultralink.sources.input_unit import InputUnit
from ultralink.sources.tagged import TagFormat

_ATTR = {name: re.compile(name + r'="([^"\n]*)"') for name in ("id", "url")}
_TITLE = re.compile(r'title="(.*)"\s*>\s*$')   # greedy: a title may itself contain quotes


def doc_label(data: bytes) -> str:
    """``'Title' (id 12)`` from a ``<doc>`` record's header line (for log lines)."""
    header = data[:1024].split(b"\n", 1)[0].decode("utf-8", "replace")
    t, i = _TITLE.search(header), _ATTR["id"].search(header)
    title = repr(t.group(1)) if t else "?"
    return f"{title} (id {i.group(1)})" if i else title


def strip_title_line(text: str, title: str) -> str:
    """Drop the first line when it only repeats the title (wikiextractor writes it so)."""
    body = text.lstrip("\n")
    first, _, rest = body.partition("\n")
    if first.strip() == title.strip():
        body = rest
    return body.strip("\n")


def parse_doc(data: bytes, unit: InputUnit) -> Page | str:
    """One ``<doc …>…</doc>`` record as a Page, or the reason it cannot be one."""
    text = data.decode("utf-8", "replace")
    header, _, body = text.partition("\n")
    if not header.rstrip().endswith(">"):
        return "the <doc …> header line does not end with '>'"
    doc_id, url = _ATTR["id"].search(header), _ATTR["url"].search(header)
    title = _TITLE.search(header)
    if not doc_id or not doc_id.group(1):
        return "no id=\"…\" in the <doc> header"
    if not title or not title.group(1).strip():
        return "no title=\"…\" in the <doc> header"
    body = body[:body.rfind("</doc>")]
    return Page(page_id=doc_id.group(1), title=title.group(1).strip(),
                text=strip_title_line(body, title.group(1)), source_file=unit.uri,
                markup="plain", url=url.group(1) if url else "")


DOC_FORMAT = TagFormat(opener=b"<doc", closer=b"</doc>", noun="doc", label=doc_label,
                       parse=parse_doc, follow=b" \t")
