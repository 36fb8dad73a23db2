"""The clean step: which pages it drops and why, the documents it builds, on a real dump."""

from __future__ import annotations

import bz2
import logging
import re
import xml.etree.ElementTree as ET

import pytest

from ultralink.core.counters import Counters
from ultralink.core.records import Document, Page
from ultralink.text import wikitext_render
from ultralink.text.clean import CleanWikitext, is_disambiguation, is_redirect_text
from tests.text.wiki_articles import EN_ARTICLE


def test_redirect_and_disambiguation_detection():
    assert is_redirect_text("#REDIRECT [[Paris]]", "en")
    assert is_redirect_text("  #redirect:[[Paris]]", "fr")
    assert is_redirect_text("#ПЕРЕНАПРАВЛЕНИЕ [[Литва]]", "ru")
    assert is_redirect_text("#перенаправление [[Литва]]", "ru")
    assert is_redirect_text("#REDIRECCIÓN [[Sevilla]]", "es")
    assert is_redirect_text("#重定向 [[北京市]]", "zh")
    assert not is_redirect_text("'''Paris''' is a #REDIRECT [[x]]", "en")
    assert is_disambiguation("'''Mercury''' may refer to:\n* [[Mercury (planet)]]\n{{Disambiguation|geo}}", "en")
    assert is_disambiguation("{{set index article}}", "en")
    assert is_disambiguation("'''Лира''':\n{{Неоднозначность}}", "ru")
    assert is_disambiguation("{{Homonymie}}", "fr")
    assert is_disambiguation("{{Desambiguación}}", "es")
    assert is_disambiguation("{{消歧義}}", "zh")
    assert is_disambiguation("text\n__DISAMBIG__", "en")
    assert not is_disambiguation("{{Disambiguation needed|date=2020}} {{Infobox}}", "en")


def _page(text: str, **kw) -> Page:
    return Page(page_id=kw.pop("page_id", "1"), title=kw.pop("title", "Paris"), text=text,
                source_file="enwiki-sample.xml.bz2", **kw)


def test_clean_step_drops_with_reasons_and_builds_documents():
    pages = [
        _page(EN_ARTICLE, page_id="681159"),
        _page("text", namespace=14),
        _page("#REDIRECT [[Paris]]"),
        _page("whatever", redirect=True),
        _page("'''Mercury''' may be:\n* [[Mercury (planet)]]\n{{disambig}}"),
        _page("{{Infobox}}[[Category:Empty]]"),
        _page("  Already   plain\ntext.\n\n\n\nSecond  paragraph. ", markup="plain", title="Plain",
              url="https://en.wikipedia.org/wiki?curid=7"),
    ]
    counters = Counters()
    docs = list(CleanWikitext("en").run(pages, counters))
    assert counters.dropped() == {"namespace": 1, "redirect": 2, "disambiguation": 1, "empty": 1}
    assert [d.doc_id for d in docs] == ["681159", "1"]
    first = docs[0]
    assert isinstance(first, Document)
    assert (first.title, first.language, first.source_file) == ("Paris", "en", "enwiki-sample.xml.bz2")
    assert first.url == "https://en.wikipedia.org/wiki/Paris"
    assert first.text.startswith("Paris is the capital")
    assert docs[1].text == "Already plain\ntext.\n\nSecond paragraph."
    assert docs[1].url == "https://en.wikipedia.org/wiki?curid=7"
    assert counters.timings["clean"] > 0


def test_zh_variant_markup_is_resolved_and_counted_in_both_markups():
    wikitext = ("'''-{zh-hans:计算机; zh-hant:電腦;}-'''是一种{{lang|en|-{A|zh-cn:软件; zh-tw:軟體}-}}"
                "[[硬件|-{zh-cn:硬件;zh-tw:硬體}-]]。-{H|zh-cn:程序; zh-tw:程式}-")
    plain = "上海开埠后，-{zh-cn:航天; zh-tw:航太; zh-hk:航天;}-工业-{于}-此发展。"
    pages = [_page(wikitext, page_id="1", title="计算机"),
             _page(plain, page_id="2", title="上海", markup="plain"),
             _page("没有标记的文字。", page_id="3", title="文字", markup="plain"),
             _page("-{H|zh-cn:软件;zh-tw:軟體}-", page_id="4", title="空")]
    counters = Counters()
    docs = list(CleanWikitext("zh").run(pages, counters))
    assert [d.text for d in docs] == ["计算机是一种软件硬件。", "上海开埠后，航天工业于此发展。",
                                      "没有标记的文字。"]
    assert counters.counts["variant_markup"] == 2   # kept documents only: page 4 is empty
    assert counters.dropped() == {"empty": 1}


def test_variant_markup_is_left_alone_where_the_wiki_has_none():
    counters = Counters()
    (doc,) = CleanWikitext("en").run([_page("Set -{x}- in the shell.", markup="plain")], counters)
    assert doc.text == "Set -{x}- in the shell." and "variant_markup" not in counters.counts


def test_step_is_picklable_and_rejects_unknown_language():
    import pickle

    step = pickle.loads(pickle.dumps(CleanWikitext("zh")))
    assert step.language == "zh" and step.name == "clean"
    with pytest.raises(ValueError, match="unknown language"):
        CleanWikitext("xx")


def _dump_pages(path) -> list[Page]:
    """Pages of a MediaWiki export; the sample ends without </mediawiki>, so close it."""
    raw = bz2.decompress(path.read_bytes()).decode("utf-8")
    if "</mediawiki>" not in raw:
        raw += "</mediawiki>"
    root = ET.fromstring(raw)
    ns = {"m": re.match(r"\{(.*)\}", root.tag).group(1)}
    pages = []
    for el in root.iterfind("m:page", ns):
        pages.append(Page(page_id=el.findtext("m:id", namespaces=ns), title=el.findtext("m:title", namespaces=ns),
                          text=el.findtext("m:revision/m:text", default="", namespaces=ns),
                          namespace=int(el.findtext("m:ns", namespaces=ns)),
                          redirect=el.find("m:redirect", ns) is not None, source_file=path.name))
    return pages


def test_real_ruwiki_dump(shared_samples):
    pages = _dump_pages(shared_samples / "ruwiki-corus-latest-pages-articles.xml.bz2")
    assert len(pages) == 2
    counters = Counters()
    docs = list(CleanWikitext("ru").run(pages, counters))
    assert counters.dropped() == {"redirect": 1}
    (doc,) = docs
    assert doc.title == "Литва"
    text = doc.text
    assert text.startswith("Литва (Lietuva), официальное название — Литовская Республика (Lietuvos "
                           "Respublika) — государство, расположенное в северо-восточной части Европы.")
    assert "Площадь — 65300 км²." in text
    paragraphs = text.split("\n\n")
    for heading in ("История", "Древнейшая история", "Экономика", "Спорт"):
        assert heading in paragraphs
    # trailing apparatus sections and the emptied "Вооружённые силы" section are gone
    assert paragraphs[-1] == "В Литве 54,7 % домохозяйств были подключены к сети Интернет (2009)."
    for gone in ("См. также", "Примечания", "Ордена Литвы", "Эйдинтас", "olitve", "Вооружённые силы",
                 "Категория:Литва", "{{", "[[", "<ref", "'''", "\u0301", "http"):
        assert gone not in text, gone
    assert len(text) > 20000


def test_tokenizer_error_is_counted_and_logged(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("tokenizer exploded")

    monkeypatch.setattr(wikitext_render, "tokenize", broken)
    counters = Counters()
    with caplog.at_level(logging.WARNING, logger="ultralink.text.clean"):
        docs = list(CleanWikitext("en").run([_page("'''x'''", title="Bad page")], counters))
    assert docs == [] and counters.dropped() == {"parse_error": 1}
    assert "enwiki-sample.xml.bz2" in caplog.text and "Bad page" in caplog.text and "tokenizer exploded" in caplog.text
