"""wikiextractor readers: ``<doc>`` text files and ``--json`` lines."""

from __future__ import annotations

import bz2
import json

import pytest
from sources_helpers import ids, read_all, write


def doc(i: int, title: str | None = None, body: str | None = None) -> str:
    title = title or f"Title {i}"
    body = body if body is not None else f"First paragraph of {i}.\n\nSecond, with <tags> & such."
    return (f'<doc id="{i}" url="https://zh.wikipedia.org/wiki?curid={i}" title="{title}">\n'
            f"{title}\n\n{body}\n</doc>\n")


def test_doc_file_fields(tmp_path):
    text = doc(1) + doc(2, title='Say "hi"') + doc(3, body="")
    pages, counters, logs, units = read_all(write(tmp_path / "wiki_00", text))
    assert units[0].kind == "wikiextractor"
    assert ids(pages) == ["1", "2", "3"] and logs == []
    p = pages[0]
    assert (p.title, p.markup) == ("Title 1", "plain")
    assert p.url == "https://zh.wikipedia.org/wiki?curid=1"
    assert p.text == "First paragraph of 1.\n\nSecond, with <tags> & such."
    assert pages[1].title == 'Say "hi"' and pages[2].text == ""
    assert counters.counts["pages_read"] == 3


def test_doc_bz2_compressed_like_wikiextractor_compress(tmp_path):
    pages, _, logs, units = read_all(write(tmp_path / "wiki_00.bz2",
                                           bz2.compress((doc(1) + doc(2)).encode())))
    assert units == units[:1] and ids(pages) == ["1", "2"] and logs == []


@pytest.mark.parametrize("unit_bytes", [10, 150, 1000, 1 << 30])
def test_doc_byte_ranges(tmp_path, unit_bytes):
    path = write(tmp_path / "wiki_00", "".join(doc(i, body=f"text {i} " * i) for i in range(1, 40)))
    pages, _, logs, units = read_all(path, unit_bytes)
    assert ids(pages) == [str(i) for i in range(1, 40)] and logs == []
    assert len(units) >= (2 if unit_bytes < 1000 else 1)


def test_doc_truncated_and_broken(tmp_path):
    text = doc(1) + '<doc id="" url="u" title="No id">\nx\n</doc>\n' + doc(3) + doc(4)[:-20]
    pages, counters, logs, _ = read_all(write(tmp_path / "wiki_01", text))
    assert ids(pages) == ["1", "3"]
    assert counters.counts["dropped_parse_error"] == 1 and "no id" in logs[0]
    assert counters.counts["errors_truncated"] == 1 and "'Title 4' (id 4)" in logs[1]
    assert all("wiki_01" in line for line in logs) and len(logs) == 2


def test_json_lines(tmp_path):
    rows = [{"id": "12", "revid": "5", "url": "https://fr.wikipedia.org/wiki?curid=12",
             "title": "Paris", "text": "Paris\n\nParis est la capitale."},
            {"id": "13", "url": "u13", "title": "Lyon", "text": "Lyon est une ville."}]
    body = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n{broken\n"
    pages, counters, logs, units = read_all(write(tmp_path / "wiki_00.json", body))
    assert units[0].kind == "wikiextractor-json"
    assert ids(pages) == ["12", "13"]
    assert pages[0].text == "Paris est la capitale." and pages[0].markup == "plain"
    assert pages[1].url == "u13"
    assert counters.counts["dropped_parse_error"] == 1
    assert logs == [(f"{tmp_path / 'wiki_00.json'}: skipped line 3: malformed JSON "
                     "(Expecting property name enclosed in double quotes: line 1 column 2 "
                     "(char 1))")]


def test_real_zhwiki_sample(shared_samples):
    pages, counters, logs, units = read_all(shared_samples / "zhwiki-enix223-wiki_00")
    assert units[0].kind == "wikiextractor" and logs == []
    assert len(pages) == 64 == counters.counts["pages_read"]
    assert pages[0].page_id == "13" and pages[0].title == "数学"
    assert pages[0].url == "https://zh.wikipedia.org/wiki?curid=13"
    assert pages[0].text.startswith("数学是利用符号语言研究")
    pages_split, *_ = read_all(shared_samples / "zhwiki-enix223-wiki_00", 20_000)
    assert [p.page_id for p in pages_split] == [p.page_id for p in pages]
