"""Wikitext → plain text in one pass over mwparserfromhell's token list (linear in the page).

The renderer walks the flat token list a single time and needs only each construct's extent
and a few of its parts, so it does not build mwparserfromhell's node tree (pure Python, ~80%
of the cleaning time before). The node-tree renderer it replaced lives on in
``tests/text/reference_renderer.py`` as the reference it is tested against. We do not use
``Wikicode.strip_code``: it keeps file captions, category names and table cells, and removing
nodes from a parsed tree one by one is quadratic on long pages.

What survives: prose, internal-link text, labels of bracketed external links, section titles
(each its own paragraph), list items (one per line, markers stripped), ``<nowiki>``/``<pre>``/
code contents, and ``<math>`` as ``$LaTeX$`` (formulas carry meaning in science articles and
the translator protects LaTeX). Everything else — templates (except a few inline text
templates such as ``{{lang}}``/``{{convert}}``/``{{nowrap}}``), tables, references,
galleries, files, categories, interlanguage links, comments, magic words and whole
boilerplate sections (References, See also, …) — is dropped (``wikitext_rules``). Paragraphs
are separated by a blank line because the segmenter prefers to cut there.
"""

from __future__ import annotations

import html.entities
import re
from collections.abc import Callable

from mwparserfromhell.parser import ParserError
from mwparserfromhell.parser import tokens as tk

from ultralink.text.tidy import collapse_spaces, tidy_text, visible
from ultralink.text.token_cursor import TokenCursor, tokenize
from ultralink.text.wikitext_rules import (BLOCK_TAGS, BOILERPLATE_MAX_LEVEL, CENTURY_TEMPLATE,
                                           DEFINITION, DROP_TAGS, HEADING, HIDDEN_NAMESPACES,
                                           INTERLANG, LANG_TEMPLATE, MATH_TAGS, NOT_LANGUAGE,
                                           PREFILTER, PSEUDO_HEADING_LEVEL, TEXT_TEMPLATES,
                                           boilerplate_titles)

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


class _TokenRenderer(TokenCursor):
    """One pass over a page's token list; the output is identical to the tree renderer's.

    Handlers take the index of a construct's opening token and the output list, and return
    the index just past the construct.
    """

    __slots__ = ("boilerplate", "handlers")

    def __init__(self, tokens: list[tk.Token], language: str) -> None:
        super().__init__(tokens)
        self.boilerplate = boilerplate_titles(language)
        self.handlers: dict[type, Callable[[int, list[str]], int]] = {
            tk.WikilinkOpen: self._wikilink, tk.TemplateOpen: self._template, tk.TagOpenOpen: self._tag,
            tk.ExternalLinkOpen: self._external_link, tk.HTMLEntityStart: self._entity,
            tk.HeadingStart: self._heading, tk.CommentStart: self._drop, tk.ArgumentOpen: self._drop,
        }

    def _walk(self, i: int, out: list[str]) -> int:
        """Render tokens from ``i`` up to the token that ends or divides the enclosing
        construct (a separator or closer at this level); return that token's index."""
        toks, n, handlers = self.toks, self.n, self.handlers
        while i < n:
            tok = toks[i]
            tp = type(tok)
            if tp is _TextToken:
                out.append(visible(tok["text"]))
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
        return collapse_spaces("".join(buf).replace("\n", " ")).strip(), j

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
                if level <= BOILERPLATE_MAX_LEVEL and title.casefold().rstrip(" :：") in self.boilerplate:
                    skip_level = level
                    continue
                skip_level = 0
                out.append(f"\n\n{HEADING}{level}{title}\n\n")
            elif skip_level:
                i = i + 1 if tp is _TextToken else self._skip(i)
            elif tp is _TextToken:
                out.append(visible(tok["text"]))
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
        out.append(f"\n\n{HEADING}{self.toks[i]['level']}{title}\n\n")
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
                if prefix in HIDDEN_NAMESPACES:
                    return self._skip(i)
                if not has_text and prefix not in NOT_LANGUAGE and INTERLANG.fullmatch(prefix):
                    return self._skip(i)
        if has_text:
            tok = toks[j + 1]
            if type(tok) is _TextToken and type(toks[j + 2]) is tk.WikilinkClose and tok["text"].strip():
                value = tok["text"]  # the usual text: one token
                if "__" in value or "''" in value or "<" in value:
                    value = visible(value)
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
        spec = TEXT_TEMPLATES.get(name.replace("_", " "))
        if spec is None:
            if LANG_TEMPLATE.match(name):
                spec = (1,)
            elif CENTURY_TEMPLATE.match(name):
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
        if tag in DROP_TAGS:
            return self._skip(i)
        if toks[i].get("wiki_markup") is not None:  # wiki syntax: * # ; : ----
            at_line_start = not out or out[-1].endswith("\n")
            if tag == "dt" and at_line_start:
                out.append(f"{HEADING}{PSEUDO_HEADING_LEVEL}")
            elif tag == "dd" and not at_line_start:
                out.append(f"{DEFINITION}: ")
            if tag in ("li", "dt", "dd"):
                return self._skip(i)
            if tag == "hr":
                out.append("\n\n")
                return self._skip(i)
            return self._contents(j, out)
        if tag in MATH_TAGS:
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
        block = tag in BLOCK_TAGS
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


def wikitext_to_text(wikitext: str, language: str) -> str:
    """Render one page's wikitext as plain paragraphs separated by blank lines."""
    # Comments and references are a third of a typical page and always dropped; cutting them
    # with one linear regex first saves ~30% of the parse. A <ref> never spans another <ref>.
    wikitext = PREFILTER.sub("", wikitext)
    return tidy_text(_TokenRenderer(tokenize(wikitext), language).page())
