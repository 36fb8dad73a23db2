"""MediaWiki XML reader: encodings, damage, splitting and memory."""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import pickle
import tracemalloc
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sources_helpers import dump_xml, ids, multistream, page_xml, read_all, write

from ultralink.core.counters import Counters
from ultralink.core.fs import resolve
from ultralink.sources.wikipedia import InputError, InputUnit, plan_units, read_unit

PAGES = [page_xml(1, title="Alpha beta"), page_xml(2, ns=4, title="Wikipedia:About"),
         page_xml(3, title="Gamma", redirect="Alpha beta", text="#REDIRECT [[Alpha beta]]"),
         page_xml(4, title="C++ & Q?", text="x < y && \"quoted\" 'ü' 中文")]


def _check_pages(pages, with_url=True):
    assert ids(pages) == ["1", "2", "3", "4"]
    p1, p2, p3, p4 = pages
    assert p1.title == "Alpha beta" and p1.namespace == 0 and not p1.redirect
    assert p1.text.startswith("Text of page 1 with <b>markup</b> & more.")
    assert p1.markup == "wikitext"
    assert p2.namespace == 4
    assert p3.redirect and p3.text == "#REDIRECT [[Alpha beta]]"
    assert p4.text == "x < y && \"quoted\" 'ü' 中文"
    if with_url:
        assert p1.url == "https://en.wikipedia.org/wiki/Alpha_beta"
        assert p4.url == "https://en.wikipedia.org/wiki/C%2B%2B_%26_Q%3F"
    else:
        assert all(p.url == "" for p in pages)


ENCODINGS = {
    "plain": lambda b: b,
    "bz2": bz2.compress,
    "gz": gzip.compress,
    "xz": lzma.compress,
    "utf8-bom": lambda b: codecs.BOM_UTF8 + b,
    "utf16-le": lambda b: codecs.BOM_UTF16_LE + b.decode().encode("utf-16-le"),
    "utf16-be": lambda b: codecs.BOM_UTF16_BE + b.decode().encode("utf-16-be"),
    "utf16-bz2": lambda b: bz2.compress(codecs.BOM_UTF16_LE + b.decode().encode("utf-16-le")),
}


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_every_encoding_reads_every_page(tmp_path, encoding):
    data = ENCODINGS[encoding](dump_xml(PAGES).encode())
    path = write(tmp_path / "dump.data", data)      # extension says nothing: content decides
    pages, counters, logs, units = read_all(path)
    _check_pages(pages)
    assert counters.counts["pages_read"] == 4
    assert logs == [] and not counters.dropped()
    assert all(u.kind == "mediawiki" and u.siteinfo_base == "https://en.wikipedia.org/wiki/"
               for u in units)
    assert all(p.source_file == str(path) for p in pages)


@pytest.mark.parametrize("xmlns", [None, "http://www.mediawiki.org/xml/export-0.10/",
                                   "http://www.mediawiki.org/xml/export-0.11/"])
def test_namespace_agnostic(tmp_path, xmlns):
    pages, _, logs, _ = read_all(write(tmp_path / "d.xml", dump_xml(PAGES, xmlns=xmlns)))
    _check_pages(pages)
    assert logs == []


def test_xml_declaration_and_no_siteinfo(tmp_path):
    xml = '<?xml version="1.0" encoding="utf-8"?>\n' + dump_xml(PAGES, siteinfo=False)
    pages, _, logs, units = read_all(write(tmp_path / "d.xml.bz2", bz2.compress(xml.encode())))
    _check_pages(pages, with_url=False)
    assert units[0].siteinfo_base == "" and logs == []


def test_index_php_base(tmp_path):
    xml = dump_xml(PAGES).replace("https://en.wikipedia.org/wiki/Main_Page",
                                  "https://wiki.example.org/index.php?title=Main_Page")
    pages, *_ = read_all(write(tmp_path / "d.xml", xml))
    assert pages[0].url == "https://wiki.example.org/index.php?title=Alpha_beta"


@pytest.mark.parametrize("compress", [lambda b: b, bz2.compress, gzip.compress, lzma.compress])
def test_missing_closing_tag_keeps_pages_and_reports(tmp_path, compress):
    data = compress(dump_xml(PAGES, closing=False).encode())
    pages, counters, logs, _ = read_all(write(tmp_path / "d", data))
    _check_pages(pages)
    assert counters.counts["errors_truncated"] == 1
    assert len(logs) == 1 and str(tmp_path / "d") in logs[0] and "</mediawiki>" in logs[0]


@pytest.mark.parametrize("compress", [lambda b: b, bz2.compress, gzip.compress])
def test_cut_mid_page_yields_pages_before(tmp_path, compress):
    xml = dump_xml(PAGES, closing=False)
    xml = xml[:xml.index("<text", xml.index("<title>C++"))]      # cut inside page 4
    pages, counters, logs, _ = read_all(write(tmp_path / "d", compress(xml.encode())))
    assert ids(pages) == ["1", "2", "3"]
    assert counters.counts["errors_truncated"] == 1
    assert len(logs) == 1 and "'C++ & Q?'" in logs[0] and "(id 4)" in logs[0]


@pytest.mark.parametrize("compress,name", [(bz2.compress, "bz2"), (gzip.compress, "gzip"),
                                           (lzma.compress, "xz")])
def test_compressed_file_cut_off(tmp_path, compress, name):
    pages_in = [page_xml(i, text=f"unique text {i} " * 2000) for i in range(1, 60)]
    data = compress(dump_xml(pages_in).encode())
    pages, counters, logs, _ = read_all(write(tmp_path / "d", data[: len(data) * 2 // 3]))
    assert 0 < len(pages) < 59
    assert ids(pages) == [str(i) for i in range(1, len(pages) + 1)]
    assert counters.counts["errors_truncated"] == 1 and len(logs) == 1
    assert name in logs[0] and "ends early" in logs[0]


def test_corrupt_bz2_middle(tmp_path):
    pages_in = [page_xml(i, text=f"unique text {i} " * 4000) for i in range(1, 80)]
    data = bytearray(bz2.compress(dump_xml(pages_in).encode(), 1))   # 100k blocks
    mid = len(data) // 2
    data[mid:mid + 64] = bytes(b ^ 0x5A for b in data[mid:mid + 64])
    pages, counters, logs, _ = read_all(write(tmp_path / "d.xml.bz2", bytes(data)))
    assert 0 < len(pages) < 79
    assert ids(pages) == [str(i) for i in range(1, len(pages) + 1)]
    assert counters.counts["errors_corrupt"] == 1 and len(logs) == 1
    assert "corrupt" in logs[0] and "d.xml.bz2" in logs[0]


def test_corrupt_bz2_start_is_input_error(tmp_path):
    data = bytearray(bz2.compress(dump_xml(PAGES).encode()))
    data[12:40] = bytes(28)
    with pytest.raises(InputError, match="corrupt bz2"):
        plan_units(resolve(str(write(tmp_path / "d.bz2", bytes(data)))), 1 << 20)


def test_malformed_page_skipped_rest_read(tmp_path):
    bad = page_xml(2, title="Broken").replace("<ns>0</ns>", "<ns>0</nsx>")
    unclosed = page_xml(3, title="Unclosed").replace("  </page>\n", "")
    xml = dump_xml([page_xml(1), bad, unclosed, page_xml(4), page_xml(5, title="")])
    pages, counters, logs, _ = read_all(write(tmp_path / "d.xml", xml))
    assert ids(pages) == ["1", "4"]
    assert counters.counts["dropped_parse_error"] == 3 and len(logs) == 3
    assert "'Broken' (id 2)" in logs[0] and "malformed XML" in logs[0]
    assert "'Unclosed' (id 3)" in logs[1] and "no closing </page>" in logs[1]
    assert "no <title>" in logs[2]


def _all_pages(n):
    return [page_xml(i, text=f"body {i} " * (1 + (i * 37) % 300)) for i in range(1, n + 1)]


@pytest.mark.parametrize("unit_bytes", [53, 97, 1000, 4096, 30_000, 1 << 30])
def test_plain_xml_byte_ranges_cover_each_page_once(tmp_path, unit_bytes):
    path = write(tmp_path / "big.xml", dump_xml(_all_pages(120)))
    pages, counters, logs, units = read_all(path, max(unit_bytes, 1))
    assert ids(pages) == [str(i) for i in range(1, 121)]
    assert logs == [] and counters.counts["pages_read"] == 120
    if unit_bytes < 30_000:
        assert len(units) > 1
    assert all(u.siteinfo_base for u in units)


@pytest.mark.parametrize("unit_bytes", [1, 500, 2048, 10_000, 1 << 30])
@pytest.mark.parametrize("per_stream", [1, 7])
def test_multistream_units_cover_each_page_once(tmp_path, unit_bytes, per_stream):
    path = write(tmp_path / "ms.xml.bz2", multistream(_all_pages(60), per_stream))
    pages, counters, logs, units = read_all(path, unit_bytes)
    assert {u.kind for u in units} == {"mediawiki-multistream"}
    assert ids(pages) == [str(i) for i in range(1, 61)]
    assert logs == [] and counters.counts["pages_read"] == 60
    assert pages[0].url == "https://en.wikipedia.org/wiki/Page_1"


def test_multistream_page_spanning_streams(tmp_path):
    xml = dump_xml(_all_pages(30)).encode()
    cuts = list(range(0, len(xml), 777)) + [len(xml)]     # streams cut anywhere, even mid-tag
    data = bz2.compress(xml[:cuts[1]]) + b"".join(bz2.compress(xml[a:b])
                                                  for a, b in pairwise(cuts[1:]))
    for unit_bytes in (300, 1500, 1 << 30):
        pages, _, logs, units = read_all(write(tmp_path / "ms.bz2", data), unit_bytes)
        assert units[0].kind == "mediawiki-multistream"
        assert ids(pages) == [str(i) for i in range(1, 31)] and logs == []


def test_multistream_corrupt_stream_costs_only_its_pages(tmp_path):
    pages_in = _all_pages(40)
    streams = [bz2.compress(dump_xml([], closing=False).encode())]
    streams += [bz2.compress("".join(pages_in[k:k + 5]).encode()) for k in range(0, 40, 5)]
    streams.append(bz2.compress(b"</mediawiki>"))
    bad = bytearray(streams[3])                          # pages 11-15
    bad[len(bad) // 2:len(bad) // 2 + 8] = b"\xff" * 8
    streams[3] = bytes(bad)
    path = write(tmp_path / "ms.bz2", b"".join(streams))
    for unit_bytes in (700, 1 << 30):
        pages, counters, logs, _ = read_all(path, unit_bytes)
        assert ids(pages) == [str(i) for i in range(1, 41) if not 11 <= i <= 15]
        assert counters.counts["errors_corrupt"] == 1 and len(logs) == 1, logs
        assert "ms.bz2" in logs[0] and "corrupt" in logs[0]


def test_multistream_truncated(tmp_path):
    data = multistream(_all_pages(30), 5)
    for unit_bytes in (900, 1 << 30):
        pages, counters, logs, _ = read_all(write(tmp_path / "ms.bz2", data[:-200]), unit_bytes)
        assert ids(pages)[:20] == [str(i) for i in range(1, 21)] and len(pages) < 30
        assert counters.counts["errors_truncated"] == 1 and len(logs) == 1, logs


def test_multistream_missing_closing_tag(tmp_path):
    data = multistream(_all_pages(30), 5, closing=False)
    for unit_bytes in (900, 1 << 30):
        pages, counters, logs, _ = read_all(write(tmp_path / "ms.bz2", data), unit_bytes)
        assert len(pages) == 30
        assert counters.counts["errors_truncated"] == 1 and "</mediawiki>" in logs[0]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(0, 400), min_size=1, max_size=25),
       unit_bytes=st.integers(1, 3000), per_stream=st.integers(1, 6))
def test_any_split_reads_each_page_once(tmp_path, sizes, unit_bytes, per_stream):
    pages_in = [page_xml(i + 1, text="é" * n) for i, n in enumerate(sizes)]
    want = [str(i) for i in range(1, len(sizes) + 1)]
    for name, data in (("p.xml", dump_xml(pages_in).encode()),
                       ("m.bz2", multistream(pages_in, per_stream))):
        pages, _, logs, _ = read_all(write(tmp_path / name, data), unit_bytes)
        assert ids(pages) == want and logs == [], (name, logs)


@pytest.mark.parametrize("content,reason", [
    (b"hello world\n", "unrecognised content"),
    (b"<html><body>hi</body></html>", "<html>"),
    (b"   \n", "no content"),
    (b"[{\"id\": 1}]", "JSON array"),
    (b"PK\x03\x04rest", "zip"),
    (bz2.compress(b"just some text"), "unrecognised content"),
])
def test_unrecognised_content_is_input_error(tmp_path, content, reason):
    path = write(tmp_path / "x.xml", content)
    with pytest.raises(InputError, match=reason) as err:
        plan_units(resolve(str(path)), 1 << 20)
    assert err.value.uri == str(path)
    assert str(path) in str(err.value)


def test_missing_and_empty_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        plan_units(resolve(str(tmp_path / "nope.xml")), 1 << 20)
    with pytest.raises(InputError, match="empty file"):
        plan_units(resolve(str(write(tmp_path / "empty.xml", b""))), 1 << 20)
    unit = InputUnit(str(tmp_path / "gone.xml"), "mediawiki", 0)
    loc = resolve(unit.uri)
    with pytest.raises(InputError, match="no such file"):
        list(read_unit(unit, loc.fs, loc.path, Counters(), print))


def test_units_are_deterministic_and_picklable(tmp_path):
    path = write(tmp_path / "d.xml", dump_xml(_all_pages(50)))
    a = plan_units(resolve(str(path)), 2000)
    b = plan_units(resolve(str(path)), 2000)
    assert a == b and len(a) > 3
    assert len({u.unit_id for u in a}) == len(a)
    assert all(len(u.unit_id) == 16 and u.unit_id.isalnum() for u in a)
    assert pickle.loads(pickle.dumps(a)) == a
    err = pickle.loads(pickle.dumps(InputError("s3://b/k", "broken")))
    assert (err.uri, err.reason, str(err)) == ("s3://b/k", "broken", "s3://b/k: broken")


def test_streaming_memory_is_bounded(tmp_path):
    path = tmp_path / "big.xml"
    page = page_xml(0, text="lorem ipsum dolor sit amet " * 400)     # ~11 KB
    with open(path, "w") as f:
        f.write(dump_xml([], closing=False))
        n = 0
        while f.tell() < 50 << 20:
            n += 1
            f.write(page.replace("<id>0</id>", f"<id>{n}</id>", 1))
        f.write("</mediawiki>\n")
    loc = resolve(str(path))
    counters = Counters()
    tracemalloc.start()
    try:
        (unit,) = plan_units(loc, 1 << 30)
        count = sum(1 for _ in read_unit(unit, loc.fs, loc.path, counters, print))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n == counters.counts["pages_read"]
    print(f"peak {peak / 2**20:.1f} MiB")
    assert peak < 20 << 20, f"peak {peak / 2**20:.1f} MiB"


def test_s3_multistream(s3_env, tmp_path):
    import boto3

    data = multistream(_all_pages(40), 4)
    boto3.client("s3").put_object(Bucket=s3_env, Key="dumps/ms.xml.bz2", Body=data)
    pages, _, logs, units = read_all(f"s3://{s3_env}/dumps/ms.xml.bz2", 400)
    assert len(units) > 3 and ids(pages) == [str(i) for i in range(1, 41)] and logs == []
    assert all(p.source_file == f"s3://{s3_env}/dumps/ms.xml.bz2" for p in pages)


def test_real_ruwiki_sample(shared_samples):
    pages, counters, logs, units = read_all(
        shared_samples / "ruwiki-corus-latest-pages-articles.xml.bz2")
    assert units[0].siteinfo_base == "https://ru.wikipedia.org/wiki/"
    assert [p.title for p in pages] == ["Базовая статья", "Литва"]
    assert pages[0].redirect and not pages[1].redirect
    assert pages[1].url == "https://ru.wikipedia.org/wiki/%D0%9B%D0%B8%D1%82%D0%B2%D0%B0"
    assert len(pages[1].text) > 10_000
    assert counters.counts["errors_truncated"] == 1 and "</mediawiki>" in logs[0]


def test_single_stream_bz2_cut_before_its_first_block_is_reported_truncated(tmp_path):
    data = bz2.compress(dump_xml(_all_pages(30)).encode())
    path = write(tmp_path / "cut.xml.bz2", data[: len(data) // 2])
    with pytest.raises(InputError, match=r"truncated: the bz2 data ends at byte \d+"):
        plan_units(resolve(str(path)), 1 << 30)
