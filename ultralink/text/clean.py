"""Pages → documents (the ``clean`` step of ``prepare``): which pages are articles, and their text.

A page is dropped before any parsing when it is not an article (namespace), a redirect or a
disambiguation page (cheap regex scans, localized from the language registry); the rest are
rendered by ``wikitext_render`` (wikitext) or whitespace-normalized (plain text). On wikis
with language-variant markup (zh) the ``-{…}-`` are resolved first, in both forms: neither
mwparserfromhell nor wikiextractor knows them. Each drop is counted under its reason, the
documents whose variant markup was resolved under ``variant_markup``, and one bad page never
stops the unit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from urllib.parse import quote

from ultralink.core.counters import Counters
from ultralink.core.languages import get_language
from ultralink.core.records import Document, Page
from ultralink.core.stage import Step
from ultralink.text.tidy import normalize_whitespace
from ultralink.text.wikitext_render import wikitext_to_text
from ultralink.text.zh_variants import resolve_variants

log = logging.getLogger(__name__)


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


def is_redirect_text(wikitext: str, language: str) -> bool:
    """True for "#REDIRECT [[..]]" pages (localized words from the language registry)."""
    return _redirect_pattern(language).match(wikitext) is not None


def is_disambiguation(wikitext: str, language: str) -> bool:
    """True when the page uses one of the language's disambiguation templates or __DISAMBIG__.

    A regex scan, so disambiguation pages are dropped before the (costlier) parse.
    """
    return _disambiguation_pattern(language).search(wikitext) is not None


def page_url(title: str, language: str) -> str:
    """The canonical article URL, for readers that do not carry one."""
    return f"https://{language}.wikipedia.org/wiki/{quote(title.replace(' ', '_'), safe=':/()_,-.')}"


class CleanWikitext(Step[Page, Document]):
    """Pages → documents: drops non-articles, redirects and disambiguation pages; cleans markup.

    Reads ``Page`` (page_id, title, text, markup, namespace, redirect, url, source_file);
    writes ``Document`` (doc_id, title, url, language, text, source_file). Drop reasons:
    ``namespace``, ``redirect``, ``disambiguation``, ``empty``, ``parse_error``; counts
    ``variant_markup``: documents kept whose ``-{…}-`` markup was resolved.
    """

    name = "clean"
    drops = ("namespace", "redirect", "disambiguation", "empty", "parse_error")

    def __init__(self, language: str) -> None:
        # fail at construction on an unknown language
        self.variants = get_language(language).variant_markup
        self.language = language

    def source_text(self, page: Page) -> tuple[str, bool]:
        """The page's text with variant markup resolved, and whether that changed it."""
        if not self.variants or "-{" not in page.text:
            return page.text, False
        text = resolve_variants(page.text)
        return text, text != page.text

    def clean(self, text: str, markup: str) -> str | None:
        """A page's text (``markup`` says its form), or ``None`` with the reason recorded by
        :meth:`run`."""
        if markup == "plain":
            return normalize_whitespace(text)
        if markup != "wikitext":
            raise ValueError(f"unknown markup {markup!r}")
        return wikitext_to_text(text, self.language)

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
                text, resolved = "", False
                if reason is None:
                    try:
                        source, resolved = self.source_text(page)
                        text = self.clean(source, page.markup) or ""
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
            if resolved:
                counters.add("variant_markup")
            yield Document(doc_id=page.page_id, title=page.title,
                           url=page.url or page_url(page.title, self.language),
                           language=self.language, text=text, source_file=page.source_file)
