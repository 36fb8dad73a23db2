"""Tokenize wikitext once and move over the flat token list by nesting depth.

mwparserfromhell's C tokenizer is fast; its Python tree builder (a Wikicode and a SmartList
per node, ~2.5 µs a token) was 80% of the cleaning time. The renderer therefore never builds
the tree: it skips, finds and slices constructs in the token list with the navigation here.
"""

from __future__ import annotations

from mwparserfromhell.parser import CTokenizer, ParserError
from mwparserfromhell.parser import tokens as tk
from mwparserfromhell.parser.builder import Builder
from mwparserfromhell.parser.tokenizer import Tokenizer as _PyTokenizer

_OPEN_TOKENS = (tk.TemplateOpen, tk.ArgumentOpen, tk.WikilinkOpen, tk.ExternalLinkOpen,
                tk.HTMLEntityStart, tk.HeadingStart, tk.CommentStart, tk.TagOpenOpen)
_CLOSE_TOKENS = (tk.TemplateClose, tk.ArgumentClose, tk.WikilinkClose, tk.ExternalLinkClose,
                 tk.HTMLEntityEnd, tk.HeadingEnd, tk.CommentEnd, tk.TagCloseSelfclose,
                 tk.TagCloseClose)
_DEPTH: dict[type, int] = {**{t: 1 for t in _OPEN_TOKENS}, **{t: -1 for t in _CLOSE_TOKENS}}
_TextToken = tk.Text

_TOKENIZER = CTokenizer or _PyTokenizer  # the C extension, unless the install lacks it


def tokenize(wikitext: str) -> list[tk.Token]:
    """The page as mwparserfromhell's flat token list (no node tree is built)."""
    # Bold/italic quotes are left as text and stripped by the renderer: parsing them buys
    # nothing for plain text and is where mwparserfromhell backtracks on unbalanced quotes.
    return _TOKENIZER().tokenize(wikitext, 0, True)


class TokenCursor:
    """Navigation over one page's token list: every index is a position in ``toks``."""

    __slots__ = ("n", "toks")

    def __init__(self, tokens: list[tk.Token]) -> None:
        self.toks = tokens
        self.n = len(tokens)

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
