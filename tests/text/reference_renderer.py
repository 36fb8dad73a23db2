"""The node-tree wikitext renderer the token renderer replaced: the test oracle.

``ultralink.text.wikitext_render.wikitext_to_text`` walks mwparserfromhell's flat token list;
this renders the same page through mwparserfromhell's parsed node tree (slower, simpler to
read). The tests require both to agree exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import mwparserfromhell
from mwparserfromhell.nodes import (Argument, Comment, ExternalLink, Heading, HTMLEntity, Node,
                                    Tag, Template, Text, Wikilink)
from mwparserfromhell.wikicode import Wikicode

from ultralink.text.tidy import collapse_spaces, tidy_text, visible
from ultralink.text.wikitext_rules import (BLOCK_TAGS, BOILERPLATE_MAX_LEVEL, CENTURY_TEMPLATE,
                                           DEFINITION, DROP_TAGS, HEADING, HIDDEN_NAMESPACES,
                                           INTERLANG, LANG_TEMPLATE, MATH_TAGS, NOT_LANGUAGE,
                                           PREFILTER, PSEUDO_HEADING_LEVEL, TEXT_TEMPLATES,
                                           boilerplate_titles)


class _Renderer:
    """Single pass over a parsed page, appending visible text to ``out``.

    The reference for the token renderer (see ``reference_text``).
    """

    __slots__ = ("hidden_namespaces", "boilerplate", "out", "dispatch")

    def __init__(self, language: str) -> None:
        self.hidden_namespaces = HIDDEN_NAMESPACES
        self.boilerplate = boilerplate_titles(language)
        self.out: list[str] = []
        self.dispatch: dict[type[Node], Callable[[Any], None]] = {
            Text: self._text, Wikilink: self._wikilink, Template: self._template, Tag: self._tag,
            ExternalLink: self._external_link, HTMLEntity: self._entity, Heading: self._heading,
            Comment: self._nothing, Argument: self._nothing,
        }

    def page(self, code: Wikicode) -> str:
        """Render the top level, skipping boilerplate sections and their subsections."""
        skip_level = 0
        dispatch = self.dispatch
        for node in code.nodes:
            if type(node) is Heading:
                if skip_level and node.level > skip_level:
                    continue
                title = self._inline(node.title)
                if (node.level <= BOILERPLATE_MAX_LEVEL
                        and title.casefold().rstrip(" :：") in self.boilerplate):
                    skip_level = node.level
                    continue
                skip_level = 0
                self.out.append(f"\n\n{HEADING}{node.level}{title}\n\n")
            elif not skip_level:
                dispatch.get(type(node), self._nothing)(node)
        return "".join(self.out)

    def _nodes(self, code: Wikicode | None) -> None:
        if code is None:
            return
        dispatch = self.dispatch
        for node in code.nodes:
            dispatch.get(type(node), self._nothing)(node)

    def _inline(self, code: Wikicode | None) -> str:
        """Render a fragment (title, template parameter) to a one-line string."""
        saved, self.out = self.out, []
        try:
            self._nodes(code)
            return collapse_spaces("".join(self.out).replace("\n", " ")).strip()
        finally:
            self.out = saved

    def _nothing(self, node: Node) -> None:
        return None

    def _text(self, node: Text) -> None:
        self.out.append(visible(node.value))

    def _entity(self, node: HTMLEntity) -> None:
        self.out.append(node.normalize())

    def _heading(self, node: Heading) -> None:  # a heading nested in a tag: keep as a line
        title = self._inline(node.title)
        self.out.append(f"\n\n{HEADING}{node.level}{title}\n\n")

    def _wikilink(self, node: Wikilink) -> None:
        title = str(node.title).strip()
        text = node.text
        if title.startswith(":"):  # [[:Category:X]] is a visible link, not a categorisation
            title = title[1:].lstrip()
        else:
            prefix, colon, _ = title.partition(":")
            if colon:
                prefix = prefix.strip().lower()
                if prefix in self.hidden_namespaces:
                    return
                if text is None and prefix not in NOT_LANGUAGE and INTERLANG.fullmatch(prefix):
                    return
        if text is not None:
            if str(text).strip():
                self._nodes(text)
                return
            # pipe trick: [[Paris (France)|]] shows "Paris"
            title = re.sub(r"\s*\([^)]*\)$", "", title.partition(":")[2] or title)
        self.out.append(title.lstrip("#").replace("_", " "))

    def _external_link(self, node: ExternalLink) -> None:
        if node.brackets and node.title is not None:
            self._nodes(node.title)

    def _template(self, node: Template) -> None:
        name = str(node.name).strip().lower()
        if name.startswith("template:"):
            name = name[9:]
        if ":" in name:  # parser functions: keep {{formatnum:1234}}, drop {{#if:...}}
            head, _, rest = name.partition(":")
            if head.strip() == "formatnum":
                self.out.append(rest.strip())
            return
        spec = TEXT_TEMPLATES.get(name.replace("_", " "))
        if spec is None:
            if LANG_TEMPLATE.match(name):
                spec = (1,)
            elif CENTURY_TEMPLATE.match(name):
                self.out.append(str(node.name).strip())
                return
            else:
                return
        params = {str(p.name).strip(): p.value for p in node.params if not p.showkey}
        if callable(spec):
            values = [self._inline(params[str(i)]) for i in range(1, len(params) + 1) if str(i) in params]
            self.out.append(spec(values))
            return
        words = []
        for item in spec:
            for i in (item if isinstance(item, tuple) else (item,)):
                value = self._inline(params.get(str(i)))
                if value:
                    words.append(value)
                    break
        self.out.append(" ".join(words))

    def _tag(self, node: Tag) -> None:
        tag = str(node.tag).strip().lower()
        markup = node.wiki_markup
        if tag in DROP_TAGS:
            return
        if markup is not None:  # wiki syntax: '' ''' * # ; : ----
            at_line_start = not self.out or self.out[-1].endswith("\n")
            if tag == "dt" and at_line_start:
                self.out.append(f"{HEADING}{PSEUDO_HEADING_LEVEL}")
            elif tag == "dd" and not at_line_start:
                self.out.append(f"{DEFINITION}: ")
            if tag in ("li", "dt", "dd"):
                return
            if tag == "hr":
                self.out.append("\n\n")
                return
            self._nodes(node.contents)
            return
        if tag in MATH_TAGS:
            latex = " ".join(str(node.contents or "").split())
            if latex:
                self.out.append(f"${latex}$" if tag == "math" else f"$\\ce{{{latex}}}$")
            return
        if tag == "br":
            self.out.append("\n")
            return
        if tag == "hr":
            self.out.append("\n\n")
            return
        block = tag in BLOCK_TAGS
        if block:
            self.out.append("\n\n")
        self._nodes(node.contents)
        if tag == "li":
            self.out.append("\n")
        elif block:
            self.out.append("\n\n")




def reference_text(wikitext: str, language: str) -> str:
    """The same rendering through mwparserfromhell's node tree (slower; the reference)."""
    wikitext = PREFILTER.sub("", wikitext)
    code = mwparserfromhell.parse(wikitext, skip_style_tags=True)
    return tidy_text(_Renderer(language).page(code))


