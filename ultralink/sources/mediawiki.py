"""MediaWiki XML exports (``pages-articles``): pages, siteinfo, and multistream detection.

Pages are cut out of the byte stream at tag level (see :class:`RecordSplitter`) and each is
parsed on its own with ElementTree, so memory is bounded by the largest page, a dump needs no
root element (multistream fragments, byte ranges) and one malformed page costs only itself.
"""

from __future__ import annotations

import bz2
import re
import xml.etree.ElementTree as ET
from urllib.parse import quote
from xml.sax.saxutils import unescape

from ultralink.core.records import Page
from ultralink.sources.byteio import BZ2_STREAM, CHUNK, OUT_MAX, Cursor
from ultralink.sources.input_unit import InputError, InputUnit
from ultralink.sources.tagged import TagFormat

_TITLE = re.compile(rb"<title>([^<]{0,300})</title>")
_ID = re.compile(rb"<id>\s*(\d+)\s*</id>")
_BASE = re.compile(r"<base>([^<]*)</base>")
_SITEINFO_END = re.compile(r"</(?:\w+:)?siteinfo\s*>|<(?:\w+:)?page[\s>]")

# Characters MediaWiki leaves unescaped in page URLs (wfUrlencode).
_URL_SAFE = ";@$!*(),/~:"
_FIRST_STREAM_BUDGET = 4 << 20    # compressed bytes read to find the end of the first bz2 stream
_HEAD_BYTES = 256 << 10           # decompressed bytes kept for sniffing and siteinfo


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def page_label(data: bytes) -> str:
    """``'Title' (id 12)`` from a page fragment, without parsing it (for log lines)."""
    head = data[:4096]
    m = _TITLE.search(head)
    title = unescape(m.group(1).decode("utf-8", "replace")) if m else "?"
    i = _ID.search(head)
    return f"{title!r} (id {i.group(1).decode()})" if i else repr(title)


def parse_page(data: bytes, unit: InputUnit) -> Page | str:
    """One ``<page>…</page>`` fragment as a Page, or the reason it cannot be one."""
    try:
        root = ET.fromstring(data.decode("utf-8", "replace"))
    except ET.ParseError as e:
        return f"malformed XML ({e})"
    page_id = title = ""
    text: str | None = None
    ns, redirect, has_title = 0, False, False
    for child in root:
        name = _local(child.tag)
        if name == "title":
            title, has_title = (child.text or "").strip(), True
        elif name == "ns":
            try:
                ns = int((child.text or "0").strip())
            except ValueError:
                return f"<ns> is not a number ({child.text!r})"
        elif name == "id" and not page_id:
            page_id = (child.text or "").strip()
        elif name == "redirect":
            redirect = True
        elif name == "revision":   # several revisions (history dumps): the last one wins
            for sub in child:
                if _local(sub.tag) == "text":
                    text = sub.text or ""
    if not page_id:
        return "no <id>"
    if not has_title or not title:
        return "no <title>"
    if text is None:
        return "no <revision><text>"
    return Page(page_id=page_id, title=title, text=text, source_file=unit.uri,
                markup="wikitext", namespace=ns, redirect=redirect,
                url=page_url(unit.siteinfo_base, title))


def page_url(base: str, title: str) -> str:
    """``https://en.wikipedia.org/wiki/Title_with_underscores`` (empty without a base)."""
    if not base:
        return ""
    return base + quote(title.replace(" ", "_"), safe=_URL_SAFE)


def base_prefix(base: str) -> str:
    """The URL prefix for titles from ``<siteinfo><base>`` (the main page's URL)."""
    base = base.strip()
    if not base:
        return ""
    if "?title=" in base:
        return base[:base.index("?title=") + len("?title=")]
    return base.rsplit("/", 1)[0] + "/" if "/" in base.split("://", 1)[-1] else ""


def siteinfo_base(head: str) -> str:
    """URL prefix from the siteinfo in the head of an export; empty when there is none."""
    m = _SITEINFO_END.search(head)
    region = head[:m.start()] if m else head
    if "siteinfo" not in region:
        return ""
    b = _BASE.search(region)
    return base_prefix(unescape(b.group(1))) if b else ""


PAGE_FORMAT = TagFormat(opener=b"<page", closer=b"</page>", noun="page", label=page_label,
                        parse=parse_page, trailer=b"</mediawiki")


def bz2_head(cur: Cursor) -> tuple[bytes, bool]:
    """The decompressed head of a bz2 file and whether it is multistream.

    Multistream dumps put ``<mediawiki><siteinfo>`` alone in a small first stream, so reading
    it is cheap; a single-stream file is given up on after a bounded read.
    """
    cur.seek(0)
    d = bz2.BZ2Decompressor()
    head, read, produced = b"", 0, 0
    try:
        while not d.eof and read < _FIRST_STREAM_BUDGET and produced < 16 * OUT_MAX:
            data = b""
            if d.needs_input:
                data = cur.read(CHUNK // 4)
                if not data:
                    if not head:   # not empty: cut off before its first block decoded
                        raise InputError(cur.uri, f"truncated: the bz2 data ends at byte {read} "
                                         "before any content could be decoded (file cut off)")
                    break
                read += len(data)
            out = d.decompress(data, OUT_MAX)
            produced += len(out)
            if len(head) < _HEAD_BYTES:
                head += out[:_HEAD_BYTES - len(head)]
    except OSError as e:
        if not head:
            raise InputError(cur.uri, f"corrupt bz2 data at the start of the file ({e})") from None
        return head, False   # the reader reports the corruption after the pages before it
    if not d.eof:
        return head, False
    cur.unread(d.unused_data)
    return head, bool(BZ2_STREAM.match(cur.peek(10)))
