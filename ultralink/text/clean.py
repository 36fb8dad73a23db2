"""Wikitext → plain paragraphs for the segmenter (the ``clean`` step of ``prepare``).

mwparserfromhell's C tokenizer splits each page into tokens once; a small renderer then
walks the flat token list a single time, so the cost is linear in the page size. It does not
build mwparserfromhell's node tree: the tree builder is pure Python and took ~80% of the
cleaning time, while the renderer only needs each construct's extent and a few of its parts.
The node-tree renderer it replaced lives on in ``tests/text/reference_renderer.py`` as the
reference the token renderer is tested against. We do not use ``Wikicode.strip_code``: it keeps file captions,
category names and table cells, and removing nodes from a parsed tree one by one is
quadratic on long pages.

What survives: prose, internal-link text, labels of bracketed external links, section titles
(each its own paragraph), list items (one per line, markers stripped), ``<nowiki>``/``<pre>``/
code contents, and ``<math>`` as ``$LaTeX$`` (formulas carry meaning in science articles and
the translator protects LaTeX). Everything else — templates (except a few inline text
templates such as ``{{lang}}``/``{{convert}}``/``{{nowrap}}``), tables, references,
galleries, files, categories, interlanguage links, comments, magic words and whole
boilerplate sections (References, See also, …) — is dropped. Paragraphs are separated by a
blank line because the segmenter prefers to cut there.
"""

from __future__ import annotations

import html.entities
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from urllib.parse import quote

from mwparserfromhell.parser import CTokenizer, ParserError
from mwparserfromhell.parser.tokenizer import Tokenizer as _PyTokenizer
from mwparserfromhell.parser import tokens as tk
from mwparserfromhell.parser.builder import Builder

from ultralink.core.counters import Counters
from ultralink.core.languages import get_language
from ultralink.core.records import Document, Page
from ultralink.core.stage import Step

log = logging.getLogger(__name__)

# Localized namespace names (lower-cased) whose links are media or categories, not prose.
# The canonical English names work on every wiki, so they are always added.
FILE_NAMESPACES: dict[str, tuple[str, ...]] = {
    "en": ("file", "image", "media"),
    "ru": ("файл", "изображение", "медиа"),
    "fr": ("fichier", "image", "média"),
    "es": ("archivo", "imagen", "medio"),
    "zh": ("文件", "檔案", "档案", "图像", "圖像", "文件檔案", "媒体", "媒體"),
}
CATEGORY_NAMESPACES: dict[str, tuple[str, ...]] = {
    "en": ("category",),
    "ru": ("категория",),
    "fr": ("catégorie",),
    "es": ("categoría",),
    "zh": ("分类", "分類"),
}

# Section titles (case-folded) whose whole section is apparatus, not knowledge: dropped with
# their subsections. English is always included (editors copy English headings).
BOILERPLATE_SECTIONS: dict[str, tuple[str, ...]] = {
    "en": ("references", "external links", "see also", "notes", "notes and references",
           "references and notes", "footnotes", "citations", "sources", "further reading",
           "bibliography", "external link", "reference"),
    "ru": ("примечания", "литература", "ссылки", "см. также", "источники", "сноски",
           "комментарии", "примечания и источники"),
    "fr": ("références", "liens externes", "voir aussi", "notes et références", "notes",
           "bibliographie", "articles connexes", "sources", "lien externe", "annexes"),
    "es": ("referencias", "enlaces externos", "véase también", "notas", "bibliografía",
           "fuentes", "notas y referencias", "enlace externo", "otras lecturas"),
    "zh": ("参考文献", "參考文獻", "外部链接", "外部連結", "外部鏈接", "外部連接", "参见", "參見",
           "参考资料", "參考資料", "参考", "參考", "注释", "註釋", "脚注", "腳註", "延伸阅读",
           "延伸閱讀", "相关条目", "相關條目", "参考来源", "參考來源"),
}

# Tags whose contents are never prose.
_DROP_TAGS = frozenset({
    "ref", "references", "gallery", "timeline", "imagemap", "score", "graph", "templatedata",
    "mapframe", "maplink", "inputbox", "categorytree", "includeonly", "indicator", "table",
    "style", "script", "templatestyles", "section", "charinsert", "hiero",
})
_MATH_TAGS = frozenset({"math", "chem", "ce"})
_BLOCK_TAGS = frozenset({"p", "div", "blockquote", "center", "poem", "pre", "ul", "ol", "dl"})

# Inline templates that carry words of the sentence; everything else is dropped. A spec is
# the positional parameters joined by a space; a tuple inside means "first non-empty of".
_Spec = tuple[int | tuple[int, ...], ...] | Callable[[list[str]], str]
_TEXT_TEMPLATES: dict[str, _Spec] = {
    "nowrap": (1,), "nobr": (1,), "nobreak": (1,), "no wrap": (1,), "nowrap begin": (),
    "lang": (2,), "langx": (2,), "transl": ((3, 2),), "ill": (1,), "interlanguage link": (1,),
    "convert": (1, 2), "cvt": (1, 2), "val": (1,), "small": (1,), "smaller": (1,),
    "abbr": (1,), "sic": ((2, 1),), "sub": (1,), "sup": (1,), "keypress": (1,),
    # zh
    "link-en": (1,), "le": (1,), "tsl": ((3, 2),), "internal link helper": (1,),
    # ru
    "iw": ((2, 1),), "comment": (1,), "num": (1,), "число": (1,), "не переведено": ((2, 1),),
    # fr
    "unité": (1, 2), "nombre": (1, 2), "date": (1, 2, 3), "date-": (1, 2, 3), "lien": (1,),
    "s-": lambda p: f"{p[0]}e siècle" if p else "", "siècle": lambda p: f"{p[0]}e siècle" if p else "",
    "e": lambda p: "e", "er": lambda p: "er", "re": lambda p: "re", "1er": lambda p: "1er",
    "citation": (1,), "japonais": (1,), "langue": (2,), "formatnum": (1,),
    # es
    "siglo": lambda p: f"siglo {p[0]}" if p else "", "esd": (1,), "trad": (1,),
}
_TEXT_TEMPLATES = {k.strip().lower(): v for k, v in _TEXT_TEMPLATES.items()}
# Russian and English "lang-xx" templates show their first parameter.
_LANG_TEMPLATE = re.compile(r"^(?:lang|langue)-[a-z-]+$")
# A fr "{{XIXe siècle}}" style template renders as its own name.
_CENTURY_TEMPLATE = re.compile(r"^[ivxlc]+e (?:siècle|millénaire)$")

# A lower-case language code before a colon in an unpiped link is an interlanguage link.
# Sister-project prefixes of 2–3 letters are excluded (they render as text).
_INTERLANG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*|simple")
_NOT_LANGUAGE = frozenset({"mw", "voy", "doi", "rfc", "iso", "wmf"})

_PREFILTER = re.compile(r"<!--.*?(?:-->|\Z)|<ref\b[^>]*/\s*>|<ref\b[^>]*>(?:(?!<ref\b).)*?</ref\s*>",
                        re.DOTALL | re.IGNORECASE)
# Behaviour switches (__NOTOC__, __БЕЗ_ОГЛАВЛЕНИЯ__, __无目录__) are upper-case or uncased;
# lower-case dunders (__init__ in code samples) stay.
_MAGIC_WORD = re.compile(r"__[^\W_]\w*?__")
_STRAY_QUOTES = re.compile(r"'{2,}")
# HTML tags the parser left as text because they were never closed (a <div> opened by one
# template and closed by another); only known tag names, so "x<y and z>w" survives.
_STRAY_TAG = re.compile(
    r"</?(?:div|span|small|big|center|font|p|br|hr|sup|sub|s|u|b|i|tt|code|abbr|cite|blockquote|"
    r"table|tr|td|th|caption|ul|ol|li|dl|dt|dd|ref|references|onlyinclude|includeonly|noinclude|"
    r"section|gallery|templatestyles|nowiki|poem|mapframe)\b[^<>]*>", re.IGNORECASE)
# Whitespace other than " " and "\n" (every character str.isspace() accepts, all below
# U+3001). Spelled out rather than [^\S\n]: a class that needs a Unicode lookup per
# character is ~10× slower to scan, and the cleaned text is scanned several times.
_OTHER_SPACE = re.compile("[{}]".format(re.escape(
    "".join(chr(c) for c in range(0x3001) if chr(c).isspace() and c not in (10, 32)))))
_SPACE_RUN = re.compile(r"  +")
_HEADING_LINE = re.compile(r"\x01(?<![^\n]\x01)[^\n]*")  # a "\x01" line (see _HEADING)
_BLANK_LINES = re.compile(r"\n\n\n+")
# "Paris ({{IPA|..}}) is" → "Paris () is": only after a space, so code like "f()" survives.
# The "_ASCII" variants are the same patterns for text without "（": starting with a literal,
# they let the scan skip ahead (several times faster than a two-character class).
_EMPTY_BRACKETS = re.compile(r"\((?<=\s\()\s*[,;:]?\s*\)|（\s*[，；、]?\s*）")
_EMPTY_BRACKETS_ASCII = re.compile(r"\((?<=\s\()\s*[,;:]?\s*\)")
_OPEN_BRACKET_PUNCT = re.compile(r"\(\s*[,;]\s+|（\s*[，；、]\s*")
_OPEN_BRACKET_PUNCT_ASCII = re.compile(r"\(\s*[,;]\s+")
_SPACE_BEFORE_PUNCT = re.compile(r" +(?=[,.，。、)])")
_SPACE_BEFORE_PUNCT_1 = re.compile(r" (?=[,.，。、)])")
_SPACE_AFTER_BRACKET = re.compile(r"\( +")
# Stress marks in Russian/Ukrainian lead sentences (Литва́) split words into odd tokens.
_CYRILLIC_STRESS = re.compile(r"[\u0300\u0301](?<=[\u0400-\u04ff][\u0300\u0301])")
_CYRILLIC_ACUTE = re.compile(r"\u0301(?<=[\u0400-\u04ff]\u0301)")  # the usual stress mark alone
# Headings are rendered as "\x01<level>title" lines so that _tidy can drop empty sections.
_HEADING = "\x01"
# A ";term" line is a pseudo-heading (level 7) unless a ":definition" follows on the line.
_PSEUDO_HEADING_LEVEL = 7
_DEFINITION = "\x03"
_DEFINITION_MARK = re.compile(r" *\x03")
# Only top-level sections can be apparatus: a "Литература" under "Культура" is content.
_BOILERPLATE_MAX_LEVEL = 2


# Every known localized name is hidden on every wiki: pages copy links between languages and
# no article title starts with "Fichier:" or "分类:".
_HIDDEN_NAMESPACES = frozenset(name for table in (FILE_NAMESPACES, CATEGORY_NAMESPACES)
                               for names in table.values() for name in names)


@lru_cache(maxsize=None)
def _boilerplate(language: str) -> frozenset[str]:
    return frozenset(BOILERPLATE_SECTIONS.get(language, ()) + BOILERPLATE_SECTIONS["en"])


@lru_cache(maxsize=None)
def _redirect_pattern(language: str) -> re.Pattern[str]:
    words = sorted(get_language(language).redirect_words, key=len, reverse=True)
    alternatives = "|".join(re.escape(w) for w in words)
    return re.compile(rf"\s*(?:{alternatives})\s*:?\s*\[\[", re.IGNORECASE)


@lru_cache(maxsize=None)
def _disambiguation_pattern(language: str) -> re.Pattern[str]:
    names = sorted(get_language(language).disambiguation_templates, key=len, reverse=True)
    # MediaWiki treats spaces and underscores alike; an optional "Template:"-style prefix.
    alternatives = "|".join(r"[ _]+".join(re.escape(p) for p in n.split()) for n in names)
    return re.compile(rf"\{{\{{\s*(?:[^{{}}|:\n]{{1,40}}:\s*)?(?:{alternatives})\s*(?:\||\}}\}})|__DISAMBIG__",
                      re.IGNORECASE)


def _drop_upper(match: re.Match[str]) -> str:
    word = match.group()
    return "" if word == word.upper() else word


def is_redirect_text(wikitext: str, language: str) -> bool:
    """True for "#REDIRECT [[..]]" pages (localized words from the language registry)."""
    return _redirect_pattern(language).match(wikitext) is not None


def is_disambiguation(wikitext: str, language: str) -> bool:
    """True when the page uses one of the language's disambiguation templates or __DISAMBIG__.

    A regex scan, so disambiguation pages are dropped before the (costlier) parse.
    """
    return _disambiguation_pattern(language).search(wikitext) is not None


def _collapse_spaces(text: str) -> str:
    """Every run of whitespace other than newlines → one space."""
    text = _OTHER_SPACE.sub(" ", text)
    return _SPACE_RUN.sub(" ", text) if "  " in text else text


def normalize_whitespace(text: str) -> str:
    """Collapse spaces, keep single newlines inside a block and "\\n\\n" between paragraphs.

    Lines are stripped, blank lines separate paragraphs, and a heading line (see
    ``_HEADING``) is always a paragraph of its own. Whole-text passes, not a loop over lines.
    """
    text = _collapse_spaces(text).replace(" \n", "\n").replace("\n ", "\n").strip(" ")
    if _HEADING in text:
        text = _HEADING_LINE.sub("\n\n\\g<0>\n\n", text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip("\n")


def _visible(value: str) -> str:
    """Text as the page shows it (magic words, stray quotes and tags gone)."""
    if "__" in value:
        value = _MAGIC_WORD.sub(_drop_upper, value)
    if "''" in value:
        value = _STRAY_QUOTES.sub("", value)
    if "<" in value:
        value = _STRAY_TAG.sub("", value)
    return value


# --- Token-stream renderer -----------------------------------------------------------------
# mwparserfromhell's C tokenizer is fast; its Python builder (a Wikicode and a SmartList per
# node, ~2.5 µs a token) was 80% of the cleaning time. _TokenRenderer walks the flat token
# list once and emits exactly what the tree renderer (tests/text/reference_renderer.py) emits; dropped constructs
# (templates, tables, files, categories) are skipped by depth counting, nothing is built.

_OPEN_TOKENS = (tk.TemplateOpen, tk.ArgumentOpen, tk.WikilinkOpen, tk.ExternalLinkOpen,
                tk.HTMLEntityStart, tk.HeadingStart, tk.CommentStart, tk.TagOpenOpen)
_CLOSE_TOKENS = (tk.TemplateClose, tk.ArgumentClose, tk.WikilinkClose, tk.ExternalLinkClose,
                 tk.HTMLEntityEnd, tk.HeadingEnd, tk.CommentEnd, tk.TagCloseSelfclose,
                 tk.TagCloseClose)
_DEPTH: dict[type, int] = {**{t: 1 for t in _OPEN_TOKENS}, **{t: -1 for t in _CLOSE_TOKENS}}
_TEMPLATE_STOPS = frozenset({tk.TemplateParamSeparator, tk.TemplateClose})
_PARAM_STOPS = frozenset({tk.TemplateParamSeparator, tk.TemplateParamEquals, tk.TemplateClose})
_LINK_STOPS = frozenset({tk.WikilinkSeparator, tk.WikilinkClose})
_LINK_CLOSE = frozenset({tk.WikilinkClose})
_EXT_LINK_STOPS = frozenset({tk.ExternalLinkSeparator, tk.ExternalLinkClose})
_TAG_NAME_STOPS = frozenset({tk.TagAttrStart, tk.TagCloseOpen, tk.TagCloseSelfclose})
_TAG_BODY_STOPS = frozenset({tk.TagCloseOpen, tk.TagCloseSelfclose})
_TAG_CONTENT_STOPS = frozenset({tk.TagOpenClose})
_TAG_CLOSE = frozenset({tk.TagCloseClose})
_TextToken = tk.Text
_NAME2CODEPOINT = html.entities.name2codepoint


class _TokenRenderer:
    """One pass over a page's token list; the output is identical to the tree renderer's.

    Handlers take the index of a construct's opening token and the output list, and return
    the index just past the construct.
    """

    __slots__ = ("boilerplate", "handlers", "n", "toks")

    def __init__(self, tokens: list[tk.Token], language: str) -> None:
        self.toks = tokens
        self.n = len(tokens)
        self.boilerplate = _boilerplate(language)
        self.handlers: dict[type, Callable[[int, list[str]], int]] = {
            tk.WikilinkOpen: self._wikilink, tk.TemplateOpen: self._template, tk.TagOpenOpen: self._tag,
            tk.ExternalLinkOpen: self._external_link, tk.HTMLEntityStart: self._entity,
            tk.HeadingStart: self._heading, tk.CommentStart: self._drop, tk.ArgumentOpen: self._drop,
        }

    # -- navigation ------------------------------------------------------------------------
    def _skip(self, i: int) -> int:
        """Index just past the construct opening at ``i`` (past the token if it opens none)."""
        toks, n, get = self.toks, self.n, _DEPTH.get
        depth = 0
        while i < n:
            depth += get(type(toks[i]), 0)
            i += 1
            if not depth:
                return i
        raise ParserError("unbalanced token stream")

    def _find(self, i: int, stops: frozenset[type]) -> int:
        """Index of the first token whose type is in ``stops``, at the nesting level of ``i``."""
        toks, n, get = self.toks, self.n, _DEPTH.get
        depth = 0
        while i < n:
            tp = type(toks[i])
            if not depth and tp in stops:
                return i
            depth += get(tp, 0)
            if depth < 0:
                break
            i += 1
        raise ParserError("unbalanced token stream")

    def _expect(self, i: int, kind: type) -> int:
        if i >= self.n or type(self.toks[i]) is not kind:
            raise ParserError(f"expected {kind.__name__} at token {i}")
        return i

    def _raw(self, i: int, j: int) -> str:
        """The wikitext of tokens ``i:j`` (``str()`` of the nodes they build)."""
        if j == i + 1 and type(self.toks[i]) is _TextToken:
            return self.toks[i]["text"]
        if j <= i:
            return ""
        return str(Builder().build(self.toks[i:j]))  # rare: a name holding a template, …

    def _blank(self, i: int, j: int) -> bool:
        """True when tokens ``i:j`` are only whitespace text (their wikitext strips to "")."""
        for tok in self.toks[i:j]:
            if type(tok) is not _TextToken or tok["text"].strip():
                return False
        return True

    # -- rendering -------------------------------------------------------------------------
    def _walk(self, i: int, out: list[str]) -> int:
        """Render tokens from ``i`` up to the token that ends or divides the enclosing
        construct (a separator or closer at this level); return that token's index."""
        toks, n, handlers = self.toks, self.n, self.handlers
        while i < n:
            tok = toks[i]
            tp = type(tok)
            if tp is _TextToken:
                out.append(_visible(tok["text"]))
                i += 1
            else:
                handler = handlers.get(tp)
                if handler is None:
                    return i
                i = handler(i, out)
        return i

    def _inline(self, i: int) -> tuple[str, int]:
        """Render a fragment (title, template parameter) as one line; (text, stop index)."""
        buf: list[str] = []
        j = self._walk(i, buf)
        return _collapse_spaces("".join(buf).replace("\n", " ")).strip(), j

    def page(self) -> str:
        """Render the top level, skipping boilerplate sections and their subsections."""
        toks, n, handlers = self.toks, self.n, self.handlers
        out: list[str] = []
        skip_level = 0
        i = 0
        while i < n:
            tok = toks[i]
            tp = type(tok)
            if tp is tk.HeadingStart:
                level = tok["level"]
                if skip_level and level > skip_level:
                    i = self._skip(i)
                    continue
                title, j = self._inline(i + 1)
                i = self._expect(j, tk.HeadingEnd) + 1
                if level <= _BOILERPLATE_MAX_LEVEL and title.casefold().rstrip(" :：") in self.boilerplate:
                    skip_level = level
                    continue
                skip_level = 0
                out.append(f"\n\n{_HEADING}{level}{title}\n\n")
            elif skip_level:
                i = i + 1 if tp is _TextToken else self._skip(i)
            elif tp is _TextToken:
                out.append(_visible(tok["text"]))
                i += 1
            else:
                handler = handlers.get(tp)
                if handler is None:
                    raise ParserError(f"unexpected {tp.__name__} at token {i}")
                i = handler(i, out)
        return "".join(out)

    def _drop(self, i: int, out: list[str]) -> int:
        return self._skip(i)

    def _entity(self, i: int, out: list[str]) -> int:
        toks = self.toks
        tok = toks[i + 1]
        if type(tok) is tk.HTMLEntityNumeric:
            tok = toks[i + 2]
            if type(tok) is tk.HTMLEntityHex:
                out.append(chr(int(toks[i + 3]["text"], 16)))
                return self._expect(i + 4, tk.HTMLEntityEnd) + 1
            out.append(chr(int(tok["text"])))
            return self._expect(i + 3, tk.HTMLEntityEnd) + 1
        out.append(chr(_NAME2CODEPOINT[tok["text"]]))
        return self._expect(i + 2, tk.HTMLEntityEnd) + 1

    def _heading(self, i: int, out: list[str]) -> int:  # a heading nested in a tag: keep as a line
        title, j = self._inline(i + 1)
        out.append(f"\n\n{_HEADING}{self.toks[i]['level']}{title}\n\n")
        return self._expect(j, tk.HeadingEnd) + 1

    def _wikilink(self, i: int, out: list[str]) -> int:
        toks = self.toks
        tok = toks[i + 1]
        j = i + 2
        kind = type(toks[j]) if type(tok) is _TextToken else None
        if kind is tk.WikilinkSeparator or kind is tk.WikilinkClose:
            title = tok["text"].strip()  # the usual title: one text token
        else:
            j = self._find(i + 1, _LINK_STOPS)
            kind = type(toks[j])
            title = self._raw(i + 1, j).strip()
        has_text = kind is tk.WikilinkSeparator
        if ":" in title:
            if title[0] == ":":  # [[:Category:X]] is a visible link, not a categorisation
                title = title[1:].lstrip()
            else:
                prefix = title.partition(":")[0].strip().lower()
                if prefix in _HIDDEN_NAMESPACES:
                    return self._skip(i)
                if not has_text and prefix not in _NOT_LANGUAGE and _INTERLANG.fullmatch(prefix):
                    return self._skip(i)
        if has_text:
            tok = toks[j + 1]
            if type(tok) is _TextToken and type(toks[j + 2]) is tk.WikilinkClose and tok["text"].strip():
                value = tok["text"]  # the usual text: one token
                if "__" in value or "''" in value or "<" in value:
                    value = _visible(value)
                out.append(value)
                return j + 3
            k = self._find(j + 1, _LINK_CLOSE)
            if not self._blank(j + 1, k):
                self._expect(self._walk(j + 1, out), tk.WikilinkClose)
                return k + 1
            # pipe trick: [[Paris (France)|]] shows "Paris"
            title = re.sub(r"\s*\([^)]*\)$", "", title.partition(":")[2] or title)
            j = k
        elif kind is not tk.WikilinkClose:
            raise ParserError(f"expected WikilinkClose at token {j}")
        out.append(title.lstrip("#").replace("_", " "))
        return j + 1

    def _external_link(self, i: int, out: list[str]) -> int:
        j = self._find(i + 1, _EXT_LINK_STOPS)
        if type(self.toks[j]) is tk.ExternalLinkClose:
            return j + 1
        if not self.toks[i].get("brackets"):
            return self._skip(i)
        return self._expect(self._walk(j + 1, out), tk.ExternalLinkClose) + 1

    def _template(self, i: int, out: list[str]) -> int:
        toks = self.toks
        j = self._find(i + 1, _TEMPLATE_STOPS)
        raw_name = self._raw(i + 1, j)
        name = raw_name.strip().lower().removeprefix("template:")
        if ":" in name:  # parser functions: keep {{formatnum:1234}}, drop {{#if:...}}
            head, _, rest = name.partition(":")
            if head.strip() == "formatnum":
                out.append(rest.strip())
            return self._skip(i)
        spec = _TEXT_TEMPLATES.get(name.replace("_", " "))
        if spec is None:
            if _LANG_TEMPLATE.match(name):
                spec = (1,)
            elif _CENTURY_TEMPLATE.match(name):
                out.append(raw_name.strip())
                return self._skip(i)
            else:
                return self._skip(i)
        positional: list[int] = []  # first token of each unnamed parameter
        while type(toks[j]) is tk.TemplateParamSeparator:
            k = self._find(j + 1, _PARAM_STOPS)
            if type(toks[k]) is tk.TemplateParamEquals:
                k = self._find(k + 1, _TEMPLATE_STOPS)
            else:
                positional.append(j + 1)
            j = k
        self._expect(j, tk.TemplateClose)
        if callable(spec):
            out.append(spec([self._inline(start)[0] for start in positional]))
            return j + 1
        words = []
        for item in spec:
            for number in (item if isinstance(item, tuple) else (item,)):
                value = self._inline(positional[number - 1])[0] if number <= len(positional) else ""
                if value:
                    words.append(value)
                    break
        out.append(" ".join(words))
        return j + 1

    def _tag(self, i: int, out: list[str]) -> int:
        toks = self.toks
        j = i + 2  # the usual name: one text token
        if type(toks[i + 1]) is not _TextToken or type(toks[j]) not in _TAG_NAME_STOPS:
            j = self._find(i + 1, _TAG_NAME_STOPS)
        tag = self._raw(i + 1, j).strip().lower()
        if tag in _DROP_TAGS:
            return self._skip(i)
        if toks[i].get("wiki_markup") is not None:  # wiki syntax: * # ; : ----
            at_line_start = not out or out[-1].endswith("\n")
            if tag == "dt" and at_line_start:
                out.append(f"{_HEADING}{_PSEUDO_HEADING_LEVEL}")
            elif tag == "dd" and not at_line_start:
                out.append(f"{_DEFINITION}: ")
            if tag in ("li", "dt", "dd"):
                return self._skip(i)
            if tag == "hr":
                out.append("\n\n")
                return self._skip(i)
            return self._contents(j, out)
        if tag in _MATH_TAGS:
            if type(toks[j]) is not tk.TagCloseOpen:
                j = self._find(j, _TAG_BODY_STOPS)
            if type(toks[j]) is tk.TagCloseOpen:
                latex = " ".join(self._raw(j + 1, self._find(j + 1, _TAG_CONTENT_STOPS)).split())
                if latex:
                    out.append(f"${latex}$" if tag == "math" else f"$\\ce{{{latex}}}$")
            return self._skip(i)
        if tag == "br":
            out.append("\n")
            return self._skip(i)
        if tag == "hr":
            out.append("\n\n")
            return self._skip(i)
        block = tag in _BLOCK_TAGS
        if block:
            out.append("\n\n")
        end = self._contents(j, out)
        if tag == "li":
            out.append("\n")
        elif block:
            out.append("\n\n")
        return end

    def _contents(self, j: int, out: list[str]) -> int:
        """Render a tag's contents; ``j`` is where its name ends. Returns the index past it."""
        toks = self.toks
        if type(toks[j]) is not tk.TagCloseOpen:
            j = self._find(j, _TAG_BODY_STOPS)  # past the attributes
        if type(toks[j]) is tk.TagCloseSelfclose:
            return j + 1
        k = self._expect(self._walk(j + 1, out), tk.TagOpenClose)
        return self._find(k + 1, _TAG_CLOSE) + 1


_TOKENIZER = CTokenizer or _PyTokenizer  # the C extension, unless the install lacks it


def _tokenize(wikitext: str) -> list[tk.Token]:
    # Bold/italic quotes are left as text and stripped by the renderer: parsing them buys
    # nothing for plain text and is where mwparserfromhell backtracks on unbalanced quotes.
    return _TOKENIZER().tokenize(wikitext, 0, True)


def _drop_empty_sections(paragraphs: list[str]) -> list[str]:
    """Drop heading markers whose section has no text (all of it was tables or templates).

    One backward pass: ``has_text[l]`` says whether text follows before the next heading of
    level <= l, which is exactly what a level-l heading needs to be kept.
    """
    has_text = [False] * 8
    kept: list[str] = []
    for para in reversed(paragraphs):
        if para.startswith(_HEADING) and _DEFINITION not in para:
            level = min(int(para[1]), 7) if para[1:2].isdigit() else 2
            if has_text[level]:
                kept.append(para[2:].strip())
            for deeper in range(level, 8):
                has_text[deeper] = False
        else:
            kept.append(para[2:].lstrip() if para.startswith(_HEADING) else para)
            has_text = [True] * 8
    kept.reverse()
    return [p for p in kept if p]


def _drop_table_residue(text: str) -> str:
    """Drop the raw lines of a table the parser could not match (left as text, e.g. rows
    produced by templates): from a line opening with ``{|`` to the one opening with ``|}``."""
    lines = text.split("\n")
    kept: list[str] = []
    depth = 0
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith("{|"):
            depth += 1
        elif depth and stripped.startswith("|}"):
            depth -= 1
        elif not depth:
            kept.append(line)
    return "\n".join(kept) if depth == 0 else "\n".join(
        line for line in lines if not line.lstrip().startswith(("{|", "|", "!")))


def _tidy(text: str) -> str:
    """Remove what dropped markup leaves behind (empty brackets, empty sections), normalize."""
    if "（" in text:
        text = _EMPTY_BRACKETS.sub("", text)
        text = _OPEN_BRACKET_PUNCT.sub(_first_char, text)
    elif "(" in text:
        text = _EMPTY_BRACKETS_ASCII.sub("", text)
        text = _OPEN_BRACKET_PUNCT_ASCII.sub("(", text)
    if "\u0300" in text:
        text = _CYRILLIC_STRESS.sub("", text)
    elif "\u0301" in text:
        text = _CYRILLIC_ACUTE.sub("", text)
    if "{|" in text:
        text = _drop_table_residue(text)
    text = normalize_whitespace(text)
    if _HEADING in text:
        text = "\n\n".join(_drop_empty_sections(text.split("\n\n"))).replace(_HEADING, "")
    if _DEFINITION in text:
        text = _DEFINITION_MARK.sub("", text)
    text = _SPACE_AFTER_BRACKET.sub("(", text)
    # With single spaces (the usual case) a pattern with a literal first character does
    # the same as _SPACE_BEFORE_PUNCT, several times faster.
    return (_SPACE_BEFORE_PUNCT if "  " in text else _SPACE_BEFORE_PUNCT_1).sub("", text)


def _first_char(match: re.Match[str]) -> str:
    return match.group()[0]


def wikitext_to_text(wikitext: str, language: str) -> str:
    """Render one page's wikitext as plain paragraphs separated by blank lines."""
    # Comments and references are a third of a typical page and always dropped; cutting them
    # with one linear regex first saves ~30% of the parse. A <ref> never spans another <ref>.
    wikitext = _PREFILTER.sub("", wikitext)
    return _tidy(_TokenRenderer(_tokenize(wikitext), language).page())


def page_url(title: str, language: str) -> str:
    """The canonical article URL, for readers that do not carry one."""
    return f"https://{language}.wikipedia.org/wiki/{quote(title.replace(' ', '_'), safe=':/()_,-.')}"


class CleanWikitext(Step[Page, Document]):
    """Pages → documents: drops non-articles, redirects and disambiguation pages; cleans markup.

    Reads ``Page`` (page_id, title, text, markup, namespace, redirect, url, source_file);
    writes ``Document`` (doc_id, title, url, language, text, source_file). Drop reasons:
    ``namespace``, ``redirect``, ``disambiguation``, ``empty``, ``parse_error``.
    """

    name = "clean"
    drops = ("namespace", "redirect", "disambiguation", "empty", "parse_error")

    def __init__(self, language: str) -> None:
        get_language(language)  # fail at construction on an unknown language
        self.language = language

    def clean(self, page: Page) -> str | None:
        """The page's text, or ``None`` with the reason recorded by :meth:`run`."""
        if page.markup == "plain":
            return normalize_whitespace(page.text)
        if page.markup != "wikitext":
            raise ValueError(f"unknown markup {page.markup!r}")
        return wikitext_to_text(page.text, self.language)

    def verdict(self, page: Page) -> str | None:
        """A drop reason decided before cleaning, or ``None`` to clean the page."""
        if page.namespace != 0:
            return "namespace"
        if page.redirect or is_redirect_text(page.text, self.language):
            return "redirect"
        if page.markup == "wikitext" and is_disambiguation(page.text, self.language):
            return "disambiguation"
        return None

    def run(self, items: Iterable[Page], counters: Counters) -> Iterator[Document]:
        for page in items:
            with counters.timed(self.name):
                reason = self.verdict(page)
                text = ""
                if reason is None:
                    try:
                        text = self.clean(page) or ""
                    except Exception as exc:  # one bad page must not stop the unit
                        log.warning("%s: cannot clean page %r: %s: %s", page.source_file, page.title,
                                    type(exc).__name__, exc)
                        reason = "parse_error"
                    else:
                        if not text:
                            reason = "empty"
            if reason is not None:
                counters.drop(reason)
                continue
            yield Document(doc_id=page.page_id, title=page.title,
                           url=page.url or page_url(page.title, self.language),
                           language=self.language, text=text, source_file=page.source_file)
