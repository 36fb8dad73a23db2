"""Wikitext rendering on realistic articles in every registry language, and against the
node-tree renderer it replaced (the oracle in ``reference_renderer.py``)."""

from __future__ import annotations

import bz2
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ultralink.text.wikitext_render import wikitext_to_text
from tests.text.reference_renderer import reference_text
from tests.text.wiki_articles import EN_ARTICLE, ES_ARTICLE, FR_ARTICLE, RU_ARTICLE, ZH_ARTICLE


def test_english_article_keeps_prose_and_drops_apparatus():
    text = wikitext_to_text(EN_ARTICLE, "en")
    paragraphs = text.split("\n\n")
    assert paragraphs[0] == (
        "Paris is the capital and most populous city of France. With an estimated population of "
        "2102650 residents in January 2023 in an area of more than 105 km2, Paris is the "
        "fourth-most populous city in the European Union.")
    assert paragraphs[1].startswith("Since the 17th century, Paris has been one of the world's major "
                                    "centres of finance, diplomacy, commerce, culture, fashion, and gastronomy.")
    # headings are paragraphs of their own; an emptied section ("Economy") loses its heading
    assert paragraphs[2:5] == ["History", "Origins", paragraphs[4]]
    assert paragraphs[4].startswith("The Parisii, a sub-tribe of the Celtic Senones, inhabited")
    assert "Geography" in paragraphs and "Economy" not in paragraphs
    # external links: the label stays, bare and label-less URLs go
    assert "See the official city site for details, or." in text
    # lists: one item per line, markers gone
    assert "the Île de la Cité and the Île Saint-Louis;\nthe hills of Montmartre and Belleville;" in text
    assert "\na numbered point about the Bois de Boulogne." in text
    assert "$A = \\pi r^2$" in text  # formulas are kept as LaTeX
    for gone in ("Infobox", "{{", "}}", "[[", "]]", "<ref", "cite", "'''", "''", "wikitable", "Portugal",
                 "27,000", "Eiffel", "Notre", "Caption", "thumb", "NOTOC", "keep this figure",
                 "See also", "Outline of Paris", "References", "External links", "Convention",
                 "Category", "Capitals in Europe", "fr:", "巴黎", "http", "|"):
        assert gone not in text, gone
    assert "\n\n\n" not in text and "  " not in text


@pytest.mark.parametrize("language, wikitext, expected, absent", [
    ("fr", FR_ARTICLE,
     ["Lyon (prononcé) est une commune française située au quart sud-est de la France, au confluent du Rhône "
      "et de la Saône. Au XIXe siècle, la ville devient un centre de l'industrie de la soie.",
      "Histoire",
      "La ville est fondée le 9 octobre -43 sous le nom de Lugdunum. Elle compte 522250 habitants "
      "en 2021."],
     ["Fourvière", "vignette", "Voir aussi", "Articles connexes", "maires", "Références",
      "Liens externes", "Site officiel", "Catégorie", "homonymie", "MSAPI"]),
    ("es", ES_ARTICLE,
     ["Sevilla es un municipio y una ciudad de España, capital de la provincia homónima y de la "
      "comunidad autónoma de Andalucía. En el siglo XVI fue el puerto de las Indias.",
      "Historia",
      "Los orígenes de la ciudad se remontan al período tartésico."],
     ["Giralda", "200px", "Véase", "Monumentos", "Referencias", "Enlaces", "Ayuntamiento",
      "Categoría", "comentario", "Séville"]),
    ("zh", ZH_ARTICLE,
     ["北京市，简称京，是中华人民共和国的首都，也是直辖市之一。全市面积16410.54 km2。",
      "历史",
      "北京有着三千余年的建城史，曾先后为辽陪都、金中都、元大都。"],
     ["景山", "天安门", "参见", "行政区划", "参考文献", "外部链接", "人民政府", "分类", "分類",
      "首都]]", "Beijing"]),
    ("ru", RU_ARTICLE,
     ["Казань (Казан) — город в России, столица Республики Татарстан. Население — 1318604 человек.",
      "История",
      "Город основан в XI веке."],
     ["Казанский кремль", "мини", "Культура", "См. также", "улиц", "Примечания", "Литература",
      "Иванов", "Ссылки", "Официальный", "Категория", "Kazan"]),
])
def test_localized_articles(language, wikitext, expected, absent):
    text = wikitext_to_text(wikitext, language)
    assert text.split("\n\n") == expected
    for word in absent:
        assert word not in text, word


def test_links_and_small_constructs():
    assert wikitext_to_text("[[Paris]] and [[Paris|the capital]]s.", "en") == "Paris and the capitals."
    assert wikitext_to_text("See [[:Category:Cities]] and [[wikt:ville|ville]].", "fr") == \
        "See Category:Cities and ville."
    assert wikitext_to_text("A [[Paris (France)|]] trick.", "en") == "A Paris trick."
    assert wikitext_to_text("x [http://a.org label] y [http://b.org] z", "en") == "x label y z"
    assert wikitext_to_text("A&nbsp;B &amp; C<br/>D", "en") == "A B & C\nD"
    assert wikitext_to_text("a<sup>2</sup> <!-- hidden\nmultiline --> b", "en") == "a2 b"
    assert wikitext_to_text("{{lang|fr|Bonjour}} {{nowrap|10 km}}", "en") == "Bonjour 10 km"
    assert wikitext_to_text("Text __TOC__ __NOEDITSECTION__ end", "en") == "Text end"
    assert wikitext_to_text("; Term : definition", "en") == "Term: definition"
    assert wikitext_to_text("", "en") == ""
    assert wikitext_to_text("{{Infobox|a=b}}\n[[Category:X]]", "en") == ""


def test_boilerplate_only_at_top_level():
    """A 'Literature' subsection under 'Culture' is content; a top-level one is a bibliography."""
    text = wikitext_to_text("== Культура ==\n=== Литература ===\nРоман «Мастер».\n"
                            "== Литература ==\n* Книга.", "ru")
    assert text == "Культура\n\nЛитература\n\nРоман «Мастер»."


def test_markup_the_parser_leaves_as_text_is_removed():
    """Unmatched tables and unclosed tags come back from the parser as text; they must not leak."""
    assert wikitext_to_text("Before\n{| class=x\n| a || b\n|-\n| c\nAfter", "en") == "Before\nAfter"
    assert wikitext_to_text("<div style=\"x\"><span>Text</span> here", "en") == "Text here"
    assert wikitext_to_text("if x<y and z>w then", "en") == "if x<y and z>w then"
    # localized media links are hidden whatever the page's language
    assert wikitext_to_text("[[Файл:a.jpg|мини|[[a|b]] c]] [[Fichier:c.png|x]] [[文件:d.png]] text", "es") == "text"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([
    "[[", "]]", "{{", "}}", "{|", "|}", "|", "!", "''", "'''", "<ref>", "</ref>", "<ref name=a/>",
    "<!--", "-->", "==", "\n", "\n\n", "*", "#", ";", ":", " ", "text", "Ж", "数", "[http://x y]",
    "<div>", "</div>", "<math>", "</math>", "&nbsp;", "__NOTOC__", "(", ")", "Category:", "File:",
]), max_size=40).map("".join))
def test_cleaning_never_raises_and_output_is_normalized(wikitext):
    text = wikitext_to_text(wikitext, "en")
    assert "\n\n\n" not in text and "  " not in text and text == text.strip()
    assert "\x01" not in text and "\x03" not in text


# --- The token-stream renderer against the node-tree renderer it replaced --------------------
# wikitext_to_text walks mwparserfromhell's token list directly (the tree builder was 80% of
# the cleaning time); tests/text/reference_renderer.py renders the same page through the parsed tree.
# Both must agree exactly.

SAMPLE_XML = sorted((Path(__file__).resolve().parents[2] / "data" / "sample").glob("*wiki-sample.xml"))


def _export_articles(raw: str) -> list[str]:
    if "</mediawiki>" not in raw:
        raw += "</mediawiki>"
    root = ET.fromstring(raw)
    ns = {"m": re.match(r"\{(.*)\}", root.tag).group(1)}
    return [el.findtext("m:revision/m:text", default="", namespaces=ns) for el in root.iterfind("m:page", ns)
            if el.findtext("m:ns", namespaces=ns) == "0"]


@pytest.mark.parametrize("language, wikitext", [
    ("en", EN_ARTICLE), ("fr", FR_ARTICLE), ("es", ES_ARTICLE), ("zh", ZH_ARTICLE), ("ru", RU_ARTICLE)])
def test_token_renderer_matches_tree_renderer(language, wikitext):
    assert wikitext_to_text(wikitext, language) == reference_text(wikitext, language)


@pytest.mark.parametrize("path", SAMPLE_XML, ids=lambda p: p.name)
def test_token_renderer_matches_tree_renderer_on_samples(path):
    articles = _export_articles(path.read_text(encoding="utf-8"))
    assert len(articles) >= 5
    language = path.name[:2]
    for wikitext in articles:
        assert wikitext_to_text(wikitext, language) == reference_text(wikitext, language)


def test_token_renderer_matches_tree_renderer_on_real_dump(shared_samples):
    raw = bz2.decompress((shared_samples / "ruwiki-corus-latest-pages-articles.xml.bz2").read_bytes())
    for wikitext in _export_articles(raw.decode("utf-8")):
        assert wikitext_to_text(wikitext, "ru") == reference_text(wikitext, "ru")


_PIECES = [
    "[[", "]]", "{{", "}}", "{|", "|}", "|", "!", "''", "'''", "<ref>", "</ref>", "<ref name=a/>", "<!--",
    "-->", "==", "=", "\n", "\n\n", "*", "#", ";", ":", " ", "\t", "\xa0", "text", "Ж", "\u0301", "数",
    "（", "）", "，", ",", "(", ")", "[http://x y]", "[http://x]", "http://y", "<div>", "</div>", "<p>",
    "<span>", "</span>", "<li>", "</li>", "<blockquote>", "<math>", "</math>", "<chem>", "<ce>H2O</ce>",
    "<nowiki>", "</nowiki>", "<pre>", "</pre>", "<gallery>", "</gallery>", "&nbsp;", "&amp;", "&#65;",
    "&#x41;", "__NOTOC__", "----", "<br/>", "<br>", "<hr/>", "Category:", "File:", "[[a|b]]", "[[a|]]",
    "[[fr:x]]", "[[:Category:x]]", "[[File:x|thumb|[[a|b]] c]]", "[[{{x}}|y]]", "[[a{{x}}]]",
    "== See also ==", "=== x ===", "{{lang|fr|", "{{nowrap|", "{{lang-ru|", "{{convert|1|km}}",
    "{{s-|XIX}}", "{{formatnum:12}}", "{{XIXe siècle}}", "{{sic|a|b}}", "{{iw|a|b}}", "{{transl|ru|x}}",
    "{{siglo|XVI}}", "{{e}}", "{{{1}}}", "{{a{{b}}|c}}", "<math>{{x}}</math>", "<{{x}}>", "<div style=\"{{x}}\">",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=60).map("".join),
       st.sampled_from(["en", "ru", "fr", "es", "zh"]))
def test_token_renderer_matches_tree_renderer_on_fragments(wikitext, language):
    assert wikitext_to_text(wikitext, language) == reference_text(wikitext, language)
