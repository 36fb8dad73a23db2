"""Builders for small MediaWiki / wikiextractor inputs, and a read-everything helper."""

from __future__ import annotations

import bz2
from pathlib import Path
from xml.sax.saxutils import escape

from ultralink.core.counters import Counters
from ultralink.core.fs import resolve
from ultralink.core.records import Page
from ultralink.sources.wikipedia import InputUnit, plan_units, read_unit

NS11 = "http://www.mediawiki.org/xml/export-0.11/"
SITEINFO = """  <siteinfo>
    <sitename>Wikipedia</sitename>
    <dbname>enwiki</dbname>
    <base>https://en.wikipedia.org/wiki/Main_Page</base>
    <namespaces><namespace key="0" case="first-letter" /></namespaces>
  </siteinfo>
"""


def page_xml(i: int, *, title: str | None = None, ns: int = 0, redirect: str | None = None,
             text: str | None = None) -> str:
    title = title if title is not None else f"Page {i}"
    text = text if text is not None else f"Text of page {i} with <b>markup</b> & more. " * 3
    red = f'    <redirect title="{escape(redirect)}" />\n' if redirect else ""
    return (f"  <page>\n    <title>{escape(title)}</title>\n    <ns>{ns}</ns>\n    <id>{i}</id>\n"
            f"{red}    <revision>\n      <id>{1000 + i}</id>\n"
            f'      <text bytes="{len(text)}" xml:space="preserve">{escape(text)}</text>\n'
            f"    </revision>\n  </page>\n")


def dump_head(*, siteinfo: bool = True, xmlns: str | None = NS11) -> str:
    attr = f' xmlns="{xmlns}" version="0.11" xml:lang="en"' if xmlns else ""
    return f"<mediawiki{attr}>\n" + (SITEINFO if siteinfo else "")


def dump_xml(pages: list[str], *, siteinfo: bool = True, xmlns: str | None = NS11,
             closing: bool = True) -> str:
    return dump_head(siteinfo=siteinfo, xmlns=xmlns) + "".join(pages) + (
        "</mediawiki>\n" if closing else "")


def multistream(pages: list[str], per_stream: int = 3, *, closing: bool = True) -> bytes:
    """Like Wikimedia's multistream dumps: header stream, page streams, footer stream."""
    out = [bz2.compress(dump_head().encode())]
    for k in range(0, len(pages), per_stream):
        out.append(bz2.compress("".join(pages[k:k + per_stream]).encode()))
    if closing:
        out.append(bz2.compress(b"</mediawiki>\n"))
    return b"".join(out)


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def read_all(path: Path | str, unit_bytes: int = 64 << 20
             ) -> tuple[list[Page], Counters, list[str], list[InputUnit]]:
    loc = resolve(str(path))
    units = plan_units(loc, unit_bytes)
    counters, logs, pages = Counters(), [], []
    for unit in units:
        pages.extend(read_unit(unit, loc.fs, loc.path, counters, logs.append))
    return pages, counters, logs, units


def ids(pages: list[Page]) -> list[str]:
    return [p.page_id for p in pages]
